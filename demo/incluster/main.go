// Command incluster is what an operator does first (image
// kubeseed/incluster): it builds its API client from inside a pod with
// client-go's rest.InClusterConfig, which reads KUBERNETES_SERVICE_HOST and
// KUBERNETES_SERVICE_PORT and the service account's token and ca.crt, asks
// the API server who it is, and lists the pods of its namespace. It prints
// what it found and exits non-zero on the first error, so `kubectl run -i`
// or `kubectl logs` shows whether a pod reaches the API as upstream's do.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
)

// namespaceFile is where the service account volume puts the pod's namespace.
const namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

func main() {
	ns := flag.String("namespace", "", "namespace whose pods to list (default: the pod's own)")
	timeout := flag.Duration("timeout", 30*time.Second, "how long the calls may take in all")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, os.Stdout, *ns); err != nil {
		fmt.Fprintln(os.Stderr, "incluster:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, ns string) error {
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return err
	}
	if ns == "" {
		b, err := os.ReadFile(namespaceFile)
		if err != nil {
			return fmt.Errorf("reading the pod's namespace: %w", err)
		}
		ns = strings.TrimSpace(string(b))
	}
	fmt.Fprintf(out, "API server: %s (CA %s)\n", cfg.Host, cfg.CAFile)
	return report(ctx, out, cfg, ns)
}

// report prints the caller's identity and the pods of ns, from the API
// server cfg reaches.
func report(ctx context.Context, out io.Writer, cfg *rest.Config, ns string) error {
	auth, err := authenticationclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	review, err := auth.SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("asking who I am: %w", err)
	}
	fmt.Fprintf(out, "authenticated as %s\n", review.Status.UserInfo.Username)
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return err
	}
	pods, err := core.Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing pods: %w", err)
	}
	fmt.Fprintf(out, "%d pods in namespace %s:\n", len(pods.Items), ns)
	for _, p := range pods.Items {
		fmt.Fprintf(out, "  %s\t%s\n", p.Name, p.Status.Phase)
	}
	return nil
}
