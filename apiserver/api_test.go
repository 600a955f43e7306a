package apiserver_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/kubeseed/kubeseed/apiserver"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func pod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox", Ports: []corev1.ContainerPort{{ContainerPort: 80}}}}},
	}
}

func deployment(name string) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox:1.35"}}},
			},
		},
	}
}

func TestSystemObjectsAfterStart(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	for _, ns := range apiserver.SystemNamespaces {
		got, err := s.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("namespace %s: %v", ns, err)
		}
		if got.Status.Phase != corev1.NamespaceActive || got.Labels[corev1.LabelMetadataName] != ns ||
			len(got.Spec.Finalizers) != 1 || got.Spec.Finalizers[0] != corev1.FinalizerKubernetes {
			t.Errorf("namespace %s not defaulted: %+v", ns, got)
		}
	}
	svc, err := s.client.CoreV1().Services("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.ClusterIP != "10.96.0.1" || svc.Spec.Ports[0].Port != 443 {
		t.Errorf("kubernetes service = %+v", svc.Spec)
	}
	ep, err := s.client.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ep.Subsets) != 1 || len(ep.Subsets[0].Addresses) != 1 {
		t.Errorf("kubernetes endpoints = %+v", ep.Subsets)
	}
	v, err := s.client.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.37.1" || v.Major != "1" || v.Minor != "37" {
		t.Errorf("version = %+v", v)
	}
}

func TestPodsCreateGetListWatch(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	pods := s.client.CoreV1().Pods("default")
	list, err := pods.List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := pods.Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion, LabelSelector: "app=watched"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	created, err := pods.Create(ctx, pod("watched"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-w.ResultChan():
		if ev.Type != watch.Added || ev.Object.(*corev1.Pod).Name != "watched" {
			t.Errorf("watch event = %s %T", ev.Type, ev.Object)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
	got, err := pods.Get(ctx, "watched", metav1.GetOptions{})
	if err != nil || got.UID != created.UID {
		t.Fatalf("get: %v %v", got, err)
	}
	l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: "app=watched"})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("list: %v %v", l, err)
	}
	if _, err := pods.Create(ctx, pod("watched"), metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}
	if _, err := s.client.CoreV1().Pods("default").Get(ctx, "nope", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get missing: %v, want NotFound", err)
	}
}

func TestDefaulting(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	p, err := s.client.CoreV1().Pods("default").Create(ctx, pod("defaulted"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Spec.Containers[0]
	for name, ok := range map[string]bool{
		"restartPolicy":                 p.Spec.RestartPolicy == corev1.RestartPolicyAlways,
		"dnsPolicy":                     p.Spec.DNSPolicy == corev1.DNSClusterFirst,
		"terminationGracePeriodSeconds": ptr.Deref(p.Spec.TerminationGracePeriodSeconds, 0) == 30,
		"schedulerName":                 p.Spec.SchedulerName == "default-scheduler",
		"securityContext":               p.Spec.SecurityContext != nil,
		"enableServiceLinks":            ptr.Deref(p.Spec.EnableServiceLinks, false),
		"imagePullPolicy (no tag)":      c.ImagePullPolicy == corev1.PullAlways,
		"port protocol":                 c.Ports[0].Protocol == corev1.ProtocolTCP,
		"terminationMessagePath":        c.TerminationMessagePath == "/dev/termination-log",
		"terminationMessagePolicy":      c.TerminationMessagePolicy == corev1.TerminationMessageReadFile,
		"status.phase":                  p.Status.Phase == corev1.PodPending,
		"qosClass":                      p.Status.QOSClass == corev1.PodQOSBestEffort,
	} {
		if !ok {
			t.Errorf("pod %s not defaulted", name)
		}
	}
	d, err := s.client.AppsV1().Deployments("default").Create(ctx, deployment("defaulted"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ru := d.Spec.Strategy.RollingUpdate
	if ptr.Deref(d.Spec.Replicas, 0) != 1 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil ||
		ru.MaxSurge.String() != "25%" || ru.MaxUnavailable.String() != "25%" ||
		ptr.Deref(d.Spec.RevisionHistoryLimit, 0) != 10 || ptr.Deref(d.Spec.ProgressDeadlineSeconds, 0) != 600 {
		t.Errorf("deployment spec not defaulted: %+v", d.Spec)
	}
	if got := d.Spec.Template.Spec.Containers[0].ImagePullPolicy; got != corev1.PullIfNotPresent {
		t.Errorf("template imagePullPolicy for a tagged image = %s, want IfNotPresent", got)
	}
	if d.Generation != 1 {
		t.Errorf("generation = %d, want 1", d.Generation)
	}
	svc, err := s.client.CoreV1().Services("default").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "defaulted"},
		Spec:       corev1.ServiceSpec{Selector: map[string]string{"app": "x"}, Ports: []corev1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if svc.Spec.Type != corev1.ServiceTypeClusterIP || svc.Spec.SessionAffinity != corev1.ServiceAffinityNone ||
		svc.Spec.Ports[0].Protocol != corev1.ProtocolTCP || svc.Spec.Ports[0].TargetPort != intstr.FromInt(80) ||
		len(svc.Spec.IPFamilies) != 1 || svc.Spec.ClusterIPs[0] != svc.Spec.ClusterIP {
		t.Errorf("service not defaulted: %+v", svc.Spec)
	}
}

func TestSelectorTemplateMismatchIs422(t *testing.T) {
	s := server(t)
	d := deployment("mismatch")
	d.Spec.Template.Labels = map[string]string{"app": "other"}
	_, err := s.client.AppsV1().Deployments("default").Create(ctxT(t), d, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("err = %v, want 422 Invalid", err)
	}
	status := err.(apierrors.APIStatus).Status()
	if status.Code != 422 || status.Details == nil || len(status.Details.Causes) != 1 ||
		status.Details.Causes[0].Field != "spec.template.metadata.labels" {
		t.Errorf("status = %+v", status)
	}
	// A pod without an image names the field upstream names.
	p := pod("noimage")
	p.Spec.Containers[0].Image = ""
	_, err = s.client.CoreV1().Pods("default").Create(ctxT(t), p, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || err.(apierrors.APIStatus).Status().Details.Causes[0].Field != "spec.containers[0].image" {
		t.Errorf("pod without image: %v", err)
	}
}

func TestSelectorIsImmutable(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	d, err := s.client.AppsV1().Deployments("default").Create(ctx, deployment("immutable"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Spec.Selector.MatchLabels["tier"] = "x"
	d.Spec.Template.Labels["tier"] = "x"
	_, err = s.client.AppsV1().Deployments("default").Update(ctx, d, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || err.(apierrors.APIStatus).Status().Details.Causes[0].Field != "spec.selector" {
		t.Errorf("selector change: %v, want 422 on spec.selector", err)
	}
}

func TestClusterIPsAreUnique(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	const n = 20
	ips := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			svc, err := s.client.CoreV1().Services("default").Create(ctx, &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("uniq-%d", i)},
				Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}}},
			}, metav1.CreateOptions{})
			errs[i] = err
			if err == nil {
				ips[i] = fmt.Sprintf("%s %d", svc.Spec.ClusterIP, svc.Spec.Ports[0].NodePort)
			}
		})
	}
	wg.Wait()
	seenIP, seenPort := map[string]bool{}, map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("create %d: %v", i, errs[i])
		}
		var ip string
		var port int
		fmt.Sscanf(ips[i], "%s %d", &ip, &port)
		if seenIP[ip] || ip == "10.96.0.1" {
			t.Errorf("cluster IP %s handed out twice", ip)
		}
		if port < 30000 || port > 32767 || seenPort[fmt.Sprint(port)] {
			t.Errorf("node port %d duplicated or out of range", port)
		}
		seenIP[ip], seenPort[fmt.Sprint(port)] = true, true
	}
	// Asking for a held IP fails the way upstream fails; after a delete it is free.
	first, err := s.client.CoreV1().Services("default").Get(ctx, "uniq-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	taken := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "taken"},
		Spec:       corev1.ServiceSpec{ClusterIP: first.Spec.ClusterIP, Ports: []corev1.ServicePort{{Port: 80}}},
	}
	_, err = s.client.CoreV1().Services("default").Create(ctx, taken, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || err.(apierrors.APIStatus).Status().Details.Causes[0].Field != "spec.clusterIPs[0]" {
		t.Errorf("taken IP: %v, want 422 on spec.clusterIPs[0]", err)
	}
	if err := s.client.CoreV1().Services("default").Delete(ctx, "uniq-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.CoreV1().Services("default").Create(ctx, taken, metav1.CreateOptions{}); err != nil {
		t.Errorf("IP not released on delete: %v", err)
	}
}

func TestBindingSetsNodeName(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	pods := s.client.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, pod("tobind"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "tobind"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-a"}}
	if err := pods.Bind(ctx, b, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := pods.Get(ctx, "tobind", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Spec.NodeName != "node-a" {
		t.Errorf("nodeName = %q", got.Spec.NodeName)
	}
	scheduled := false
	for _, c := range got.Status.Conditions {
		scheduled = scheduled || (c.Type == corev1.PodScheduled && c.Status == corev1.ConditionTrue)
	}
	if !scheduled {
		t.Errorf("no PodScheduled condition: %+v", got.Status.Conditions)
	}
	b.Target.Name = "node-b"
	if err := pods.Bind(ctx, b, metav1.CreateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("second bind: %v, want Conflict", err)
	}
	l, err := pods.List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=node-a"})
	if err != nil || len(l.Items) != 1 || l.Items[0].Name != "tobind" {
		t.Errorf("field selector spec.nodeName: %v %v", l, err)
	}
	// A bound pod is deleted gracefully: it stays, marked, until its node confirms.
	if err := pods.Delete(ctx, "tobind", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err = pods.Get(ctx, "tobind", metav1.GetOptions{})
	if err != nil || got.DeletionTimestamp == nil || ptr.Deref(got.DeletionGracePeriodSeconds, 0) != 30 {
		t.Errorf("graceful delete: %v %v", got, err)
	}
	if err := pods.Delete(ctx, "tobind", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "tobind", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after grace 0 delete: %v", err)
	}
}

func TestStatusSubresourceUpdatesOnlyStatus(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	deps := s.client.AppsV1().Deployments("default")
	d, err := deps.Create(ctx, deployment("status"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d.Status.Replicas, d.Status.ObservedGeneration = 3, 1
	d.Spec.Replicas = ptr.To[int32](7)
	got, err := deps.UpdateStatus(ctx, d, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Status.Replicas != 3 || ptr.Deref(got.Spec.Replicas, 0) != 1 || got.Generation != 1 {
		t.Errorf("status update: status %d spec %d gen %d", got.Status.Replicas, ptr.Deref(got.Spec.Replicas, 0), got.Generation)
	}
	got.Status.Replicas = 99
	got.Spec.Replicas = ptr.To[int32](2)
	upd, err := deps.Update(ctx, got, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if upd.Status.Replicas != 3 || ptr.Deref(upd.Spec.Replicas, 0) != 2 || upd.Generation != 2 {
		t.Errorf("main update: status %d spec %d gen %d", upd.Status.Replicas, ptr.Deref(upd.Spec.Replicas, 0), upd.Generation)
	}
	scale, err := deps.GetScale(ctx, "status", metav1.GetOptions{})
	if err != nil || scale.Spec.Replicas != 2 || scale.Status.Selector != "app=status" {
		t.Fatalf("scale: %+v %v", scale, err)
	}
	scale.Spec.Replicas = 4
	if _, err := deps.UpdateScale(ctx, "status", scale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if d, _ := deps.Get(ctx, "status", metav1.GetOptions{}); ptr.Deref(d.Spec.Replicas, 0) != 4 {
		t.Errorf("replicas after scale = %d", ptr.Deref(d.Spec.Replicas, 0))
	}
}

func TestNamespaceLifecycle(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	if _, err := s.client.CoreV1().Pods("nosuch").Create(ctx, pod("p"), metav1.CreateOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("create in a missing namespace: %v, want NotFound", err)
	}
	if err := s.client.CoreV1().Namespaces().Delete(ctx, "default", metav1.DeleteOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("delete default: %v, want Forbidden", err)
	}
	if _, err := s.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "doomed"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A namespace created a moment ago takes content at once.
	if _, err := s.client.CoreV1().ConfigMaps("doomed").Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.client.CoreV1().Namespaces().Delete(ctx, "doomed", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ns, err := s.client.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{})
	if err != nil || ns.Status.Phase != corev1.NamespaceTerminating || ns.DeletionTimestamp == nil {
		t.Fatalf("after delete: %+v %v", ns, err)
	}
	if _, err := s.client.CoreV1().Pods("doomed").Create(ctx, pod("late"), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("create in a terminating namespace: %v, want Forbidden", err)
	}
	// The namespace controller reports progress in status and labels may
	// change: neither removes a namespace whose spec finalizers remain.
	ns.Status.Conditions = []corev1.NamespaceCondition{{Type: corev1.NamespaceContentRemaining, Status: corev1.ConditionTrue, Reason: "SomeResourcesRemain"}}
	if ns, err = s.client.CoreV1().Namespaces().UpdateStatus(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ns.Labels = map[string]string{"touched": "yes"}
	if ns, err = s.client.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.client.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{}); err != nil || len(got.Spec.Finalizers) == 0 {
		t.Fatalf("terminating namespace after status and label updates: %+v %v", got, err)
	}
	// The namespace controller's last step: emptying spec.finalizers deletes it.
	ns.Spec.Finalizers = nil
	if _, err := s.client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.client.CoreV1().Namespaces().Get(ctx, "doomed", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after finalize: %v, want NotFound", err)
	}
}

func TestEvictionAndAccessReview(t *testing.T) {
	s := server(t)
	ctx := ctxT(t)
	pods := s.client.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, pod("evicted"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: "evicted", Namespace: "default"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "evicted", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("evicted pod: %v, want NotFound", err)
	}
	review, err := s.client.AuthorizationV1().SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
		Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "create", Resource: "pods", Namespace: "default"}},
	}, metav1.CreateOptions{})
	if err != nil || !review.Status.Allowed {
		t.Errorf("access review: %+v %v", review, err)
	}
}
