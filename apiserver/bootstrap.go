package apiserver

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
	"k8s.io/utils/ptr"

	"github.com/kubeseed/kubeseed/apiserver/rbac"
	"github.com/kubeseed/kubeseed/apiserver/registry"
	"github.com/kubeseed/kubeseed/apiserver/validation"
)

// SystemNamespaces exist on every cluster from the start.
var SystemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// bootstrap creates what a fresh cluster has before anyone asks: the RBAC
// bootstrap policy, the system namespaces, the system priority classes and
// the kubernetes service in default with its endpoints.
type bootstrap struct {
	kubernetesIP string
	endpointIP   string
	port         int
	allocators   *registry.ServiceAllocators
	// authTrust is the content of kube-system/extension-apiserver-authentication.
	authTrust map[string]string
	done      chan struct{}
}

func (b *bootstrap) run(ctx context.Context, client kubernetes.Interface) {
	logger := klog.FromContext(ctx)
	for attempt := 0; ctx.Err() == nil; attempt++ {
		err := b.ensure(ctx, client)
		if err == nil {
			close(b.done)
			return
		}
		if attempt%20 == 0 {
			logger.Info("Bootstrapping the cluster; retrying", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (b *bootstrap) ensure(ctx context.Context, client kubernetes.Interface) error {
	if err := rbac.EnsureBootstrapPolicy(ctx, client); err != nil {
		return err
	}
	for _, name := range SystemNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("namespace %s: %w", name, err)
		}
	}
	// As upstream, a system class that exists is left as it is (its
	// description and labels may have been changed; its value cannot be).
	for _, pc := range validation.SystemPriorityClasses() {
		if _, err := client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("priority class %s: %w", pc.Name, err)
		}
	}
	if b.authTrust != nil {
		if err := ensureAuthenticationTrust(ctx, client, b.authTrust); err != nil {
			return err
		}
	}
	labels := map[string]string{"component": "apiserver", "provider": "kubernetes"}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault, Labels: labels},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: b.kubernetesIP,
			Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP,
				TargetPort: intstr.FromInt(b.port)}},
			SessionAffinity: corev1.ServiceAffinityNone,
		},
	}
	if _, err := client.CoreV1().Services(metav1.NamespaceDefault).Create(ctx, svc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("kubernetes service: %w", err)
	}
	ep := &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault,
			Labels: map[string]string{"endpointslice.kubernetes.io/skip-mirror": "true"}},
		Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: b.endpointIP}},
			Ports:     []corev1.EndpointPort{{Name: "https", Port: int32(b.port), Protocol: corev1.ProtocolTCP}},
		}},
	}
	if err := apply(ctx, ep, client.CoreV1().Endpoints(metav1.NamespaceDefault).Get, client.CoreV1().Endpoints(metav1.NamespaceDefault).Create,
		client.CoreV1().Endpoints(metav1.NamespaceDefault).Update, func(cur, want *corev1.Endpoints) { cur.Subsets, cur.Labels = want.Subsets, want.Labels }); err != nil {
		return fmt.Errorf("kubernetes endpoints: %w", err)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "kubernetes", Namespace: metav1.NamespaceDefault, Labels: map[string]string{discoveryv1.LabelServiceName: "kubernetes"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{b.endpointIP}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}}},
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("https"), Port: ptr.To(int32(b.port)), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	if err := b.repair(ctx, client); err != nil {
		return fmt.Errorf("repairing service allocations: %w", err)
	}
	slices := client.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault)
	if err := apply(ctx, slice, slices.Get, slices.Create, slices.Update, func(cur, want *discoveryv1.EndpointSlice) {
		cur.Endpoints, cur.Ports, cur.Labels, cur.AddressType = want.Endpoints, want.Ports, want.Labels, want.AddressType
	}); err != nil {
		return fmt.Errorf("kubernetes endpointslice: %w", err)
	}
	return nil
}

// apply creates want or brings the existing object's content in line with it,
// so a restart on another address or port updates the endpoints.
func apply[T interface{ GetName() string }](ctx context.Context, want T,
	get func(context.Context, string, metav1.GetOptions) (T, error),
	create func(context.Context, T, metav1.CreateOptions) (T, error),
	update func(context.Context, T, metav1.UpdateOptions) (T, error),
	copyInto func(cur, want T)) error {
	cur, err := get(ctx, want.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = create(ctx, want, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	copyInto(cur, want)
	_, err = update(ctx, cur, metav1.UpdateOptions{})
	return err
}

// repair frees cluster IPs and node ports that no service holds.
func (b *bootstrap) repair(ctx context.Context, client kubernetes.Interface) error {
	if b.allocators == nil {
		return nil
	}
	list, err := client.CoreV1().Services(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	rev, err := strconv.ParseInt(list.ResourceVersion, 10, 64)
	if err != nil {
		return fmt.Errorf("service list resourceVersion %q: %w", list.ResourceVersion, err)
	}
	return b.allocators.Repair(ctx, list.Items, rev)
}
