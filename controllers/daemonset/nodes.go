package daemonset

import (
	"fmt"
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// Labels and annotations of upstream's DaemonSet controller.
const (
	// templateGenerationLabel carries the DaemonSet's template generation.
	templateGenerationLabel = "pod-template-generation"
	// templateGenerationAnnotation is set by the API server on the DaemonSet.
	templateGenerationAnnotation = "deprecated.daemonset.template.generation"
)

// daemonTolerations are added to every daemon pod so that node conditions
// never evict it: not-ready and unreachable (NoExecute), the pressure and
// unschedulable taints (NoSchedule), network-unavailable for host network pods.
func daemonTolerations(spec *corev1.PodSpec) []corev1.Toleration {
	add := []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}
	if spec.HostNetwork {
		add = append(add, corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	out := append([]corev1.Toleration(nil), spec.Tolerations...)
	for _, t := range add {
		replaced := false
		for i := range out {
			if out[i].Key == t.Key && out[i].Effect == t.Effect {
				out[i] = t
				replaced = true
			}
		}
		if !replaced {
			out = append(out, t)
		}
	}
	return out
}

// eligibility holds what is parsed once per DaemonSet.
type eligibility struct {
	ds          *appsv1.DaemonSet
	tolerations []corev1.Toleration
	affinity    nodeaffinity.RequiredNodeAffinity
}

func newEligibility(ds *appsv1.DaemonSet) eligibility {
	return eligibility{
		ds:          ds,
		tolerations: daemonTolerations(&ds.Spec.Template.Spec),
		affinity:    nodeaffinity.NewRequiredNodeAffinity(ds.Spec.Template.Spec.NodeSelector, ds.Spec.Template.Spec.Affinity),
	}
}

// shouldRun says whether a daemon pod should be created on node, and whether
// an existing one should keep running there.
func (e eligibility) shouldRun(node *corev1.Node) (run, keep bool) {
	if n := e.ds.Spec.Template.Spec.NodeName; n != "" && n != node.Name {
		return false, false
	}
	if ok, _ := e.affinity.Match(node); !ok {
		return false, false
	}
	untolerated := func(effects ...corev1.TaintEffect) bool {
		_, found := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, e.tolerations, func(t *corev1.Taint) bool {
			for _, eff := range effects {
				if t.Effect == eff {
					return true
				}
			}
			return false
		}, false)
		return found
	}
	if untolerated(corev1.TaintEffectNoSchedule, corev1.TaintEffectNoExecute) {
		return false, !untolerated(corev1.TaintEffectNoExecute)
	}
	return true, true
}

// templateGeneration is the DaemonSet's template generation annotation.
func templateGeneration(ds *appsv1.DaemonSet) *int64 {
	v, ok := ds.Annotations[templateGenerationAnnotation]
	if !ok {
		return nil
	}
	var n int64
	if _, err := fmt.Sscan(v, &n); err != nil {
		return nil
	}
	return &n
}

// newPod builds the daemon pod for node: the template with the daemon
// tolerations, the generation and revision hash labels, and a required node
// affinity on the node's name replacing any required terms.
func newPod(ds *appsv1.DaemonSet, ref metav1.OwnerReference, nodeName, hash string) *corev1.Pod {
	t := ds.Spec.Template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       ds.Namespace,
			GenerateName:    ds.Name + "-",
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{ref},
		},
		Spec: t.Spec,
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	if g := templateGeneration(ds); g != nil {
		pod.Labels[templateGenerationLabel] = fmt.Sprint(*g)
	}
	if hash != "" {
		pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	}
	pod.Spec.Tolerations = daemonTolerations(&pod.Spec)
	term := corev1.NodeSelectorTerm{MatchFields: []corev1.NodeSelectorRequirement{{
		Key: metav1.ObjectNameField, Operator: corev1.NodeSelectorOpIn, Values: []string{nodeName},
	}}}
	if pod.Spec.Affinity == nil {
		pod.Spec.Affinity = &corev1.Affinity{}
	}
	if pod.Spec.Affinity.NodeAffinity == nil {
		pod.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{term}}
	return pod
}

// targetNode is the node a daemon pod is for: its nodeName once bound, else
// the node its required affinity names.
func targetNode(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == metav1.ObjectNameField && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

// isUpdated says the pod runs the current template: its revision hash or its
// template generation matches.
func isUpdated(pod *corev1.Pod, hash string, generation *int64) bool {
	if hash != "" && pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash {
		return true
	}
	return generation != nil && pod.Labels[templateGenerationLabel] == fmt.Sprint(*generation)
}

func podReady(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady && p.Status.Conditions[i].Status == corev1.ConditionTrue {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

func available(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := podReady(p)
	if c == nil {
		return false
	}
	return minReadySeconds == 0 || !c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).After(now)
}

// oldestFirst orders pods scheduled first, then running, then oldest, so the
// first is the one to keep among duplicates.
func oldestFirst(pods []*corev1.Pod) {
	sort.SliceStable(pods, func(i, j int) bool {
		a, b := pods[i], pods[j]
		if (a.Spec.NodeName != "") != (b.Spec.NodeName != "") {
			return a.Spec.NodeName != ""
		}
		if (a.Status.Phase == corev1.PodRunning) != (b.Status.Phase == corev1.PodRunning) {
			return a.Status.Phase == corev1.PodRunning
		}
		if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.Name < b.Name
		}
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	})
}
