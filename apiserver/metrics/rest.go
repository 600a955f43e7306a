package metrics

import (
	"context"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/kubernetes"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"github.com/kubeseed/kubeseed/apiserver/registry"
)

// Group is metrics.k8s.io/v1beta1 served from s.
func Group(s *Scraper) registry.Group {
	return registry.Group{GroupVersion: metricsv1beta1.SchemeGroupVersion, Storage: map[string]rest.Storage{
		"nodes": &nodeREST{s: s, TableConvertor: rest.NewDefaultTableConvertor(metricsv1beta1.Resource("nodes"))},
		"pods":  &podREST{s: s, TableConvertor: rest.NewDefaultTableConvertor(metricsv1beta1.Resource("pods"))},
	}}
}

func usage(cores, bytes float64) corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewScaledQuantity(int64(cores*1e9), resource.Nano),
		corev1.ResourceMemory: *resource.NewQuantity(int64(bytes), resource.BinarySI),
	}
}

// listOptions passes a metrics list's label selector on to the objects the
// metrics are of, read from the watch cache.
func listOptions(opts *metainternalversion.ListOptions) metav1.ListOptions {
	out := metav1.ListOptions{ResourceVersion: "0"}
	if opts != nil && opts.LabelSelector != nil {
		out.LabelSelector = opts.LabelSelector.String()
	}
	return out
}

// apiError keeps a status error as it is and wraps anything else.
func apiError(err error) error {
	if _, ok := err.(apierrors.APIStatus); ok {
		return err
	}
	return apierrors.NewInternalError(err)
}

// nodeMetrics is a node's usage, or false when it has none yet.
func (s *Scraper) nodeMetrics(n *corev1.Node) (metricsv1beta1.NodeMetrics, bool) {
	s.mu.RLock()
	sr, ok := s.nodeSeries[n.Name]
	s.mu.RUnlock()
	if !ok {
		return metricsv1beta1.NodeMetrics{}, false
	}
	cores, window, ok := sr.rate()
	if !ok {
		return metricsv1beta1.NodeMetrics{}, false
	}
	return metricsv1beta1.NodeMetrics{
		ObjectMeta: metav1.ObjectMeta{Name: n.Name, Labels: n.Labels, CreationTimestamp: metav1.NewTime(time.Now())},
		Timestamp:  metav1.NewTime(sr.cur.at),
		Window:     metav1.Duration{Duration: window},
		Usage:      usage(cores, sr.cur.memory),
	}, true
}

// podMetrics is a pod's usage: every running container with a rate, in spec
// order; false when none has one.
func (s *Scraper) podMetrics(p *corev1.Pod) (metricsv1beta1.PodMetrics, bool) {
	out := metricsv1beta1.PodMetrics{
		ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, Labels: p.Labels, CreationTimestamp: metav1.NewTime(time.Now())},
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, c := range p.Spec.Containers {
		sr, ok := s.ctrSeries[containerKey{p.Namespace, p.Name, c.Name}]
		if !ok {
			continue
		}
		cores, window, ok := sr.rate()
		if !ok {
			continue
		}
		out.Containers = append(out.Containers, metricsv1beta1.ContainerMetrics{Name: c.Name, Usage: usage(cores, sr.cur.memory)})
		if sr.cur.at.After(out.Timestamp.Time) {
			out.Timestamp, out.Window = metav1.NewTime(sr.cur.at), metav1.Duration{Duration: window}
		}
	}
	return out, len(out.Containers) > 0
}

// api is the client metrics reads objects with, nil before Run.
func (s *Scraper) api() kubernetes.Interface {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.client
}

type nodeREST struct {
	s *Scraper
	rest.TableConvertor
}

var (
	_ rest.Getter               = &nodeREST{}
	_ rest.Lister               = &nodeREST{}
	_ rest.Scoper               = &nodeREST{}
	_ rest.KindProvider         = &nodeREST{}
	_ rest.SingularNameProvider = &nodeREST{}
)

func (r *nodeREST) New() runtime.Object     { return &metricsv1beta1.NodeMetrics{} }
func (r *nodeREST) NewList() runtime.Object { return &metricsv1beta1.NodeMetricsList{} }
func (r *nodeREST) Destroy()                {}
func (r *nodeREST) NamespaceScoped() bool   { return false }
func (r *nodeREST) Kind() string            { return "NodeMetrics" }
func (r *nodeREST) GetSingularName() string { return "node" }

func (r *nodeREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	if c := r.s.api(); c != nil {
		if n, err := c.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{ResourceVersion: "0"}); err == nil {
			if m, ok := r.s.nodeMetrics(n); ok {
				return &m, nil
			}
		}
	}
	return nil, apierrors.NewNotFound(metricsv1beta1.Resource("nodemetrics"), name)
}

func (r *nodeREST) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	out := &metricsv1beta1.NodeMetricsList{}
	c := r.s.api()
	if c == nil {
		return out, nil
	}
	nodes, err := c.CoreV1().Nodes().List(ctx, listOptions(opts))
	if err != nil {
		return nil, apiError(err)
	}
	sort.Slice(nodes.Items, func(i, j int) bool { return nodes.Items[i].Name < nodes.Items[j].Name })
	for i := range nodes.Items {
		if m, ok := r.s.nodeMetrics(&nodes.Items[i]); ok {
			out.Items = append(out.Items, m)
		}
	}
	return out, nil
}

type podREST struct {
	s *Scraper
	rest.TableConvertor
}

var (
	_ rest.Getter               = &podREST{}
	_ rest.Lister               = &podREST{}
	_ rest.Scoper               = &podREST{}
	_ rest.KindProvider         = &podREST{}
	_ rest.SingularNameProvider = &podREST{}
)

func (r *podREST) New() runtime.Object     { return &metricsv1beta1.PodMetrics{} }
func (r *podREST) NewList() runtime.Object { return &metricsv1beta1.PodMetricsList{} }
func (r *podREST) Destroy()                {}
func (r *podREST) NamespaceScoped() bool   { return true }
func (r *podREST) Kind() string            { return "PodMetrics" }
func (r *podREST) GetSingularName() string { return "pod" }

func (r *podREST) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	ns := genericapirequest.NamespaceValue(ctx)
	if c := r.s.api(); c != nil {
		if p, err := c.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{ResourceVersion: "0"}); err == nil {
			if m, ok := r.s.podMetrics(p); ok {
				return &m, nil
			}
		}
	}
	return nil, apierrors.NewNotFound(metricsv1beta1.Resource("podmetrics"), name)
}

func (r *podREST) List(ctx context.Context, opts *metainternalversion.ListOptions) (runtime.Object, error) {
	out := &metricsv1beta1.PodMetricsList{}
	c := r.s.api()
	if c == nil {
		return out, nil
	}
	list, err := c.CoreV1().Pods(genericapirequest.NamespaceValue(ctx)).List(ctx, listOptions(opts))
	if err != nil {
		return nil, apiError(err)
	}
	pods := list.Items
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
	for i := range pods {
		if m, ok := r.s.podMetrics(&pods[i]); ok {
			out.Items = append(out.Items, m)
		}
	}
	return out, nil
}
