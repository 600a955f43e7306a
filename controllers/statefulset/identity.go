package statefulset

import (
	"regexp"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var podNameRE = regexp.MustCompile(`^(.*)-([0-9]+)$`)

// ordinalOf parses "<parent>-<ordinal>"; -1 when the name has no ordinal.
func ordinalOf(pod *corev1.Pod) (string, int) {
	m := podNameRE.FindStringSubmatch(pod.Name)
	if m == nil {
		return "", -1
	}
	n, err := strconv.Atoi(m[2])
	if err != nil {
		return "", -1
	}
	return m[1], n
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

func replicasOf(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

func inRange(set *appsv1.StatefulSet, ordinal int) bool {
	return ordinal >= startOrdinal(set) && ordinal < startOrdinal(set)+replicasOf(set)
}

func podName(set *appsv1.StatefulSet, ordinal int) string {
	return set.Name + "-" + strconv.Itoa(ordinal)
}

func claimName(set *appsv1.StatefulSet, claim *corev1.PersistentVolumeClaim, ordinal int) string {
	return claim.Name + "-" + podName(set, ordinal)
}

// revisionOf is the revision label of a pod.
func revisionOf(pod *corev1.Pod) string {
	return pod.Labels[appsv1.StatefulSetRevisionLabel]
}

// newPod builds the pod of ordinal from set's template at revision: the
// template's labels and annotations, the identity labels (pod name, pod
// index, revision), hostname and subdomain, and one volume per claim
// template in place of any template volume of the same name.
func newPod(set *appsv1.StatefulSet, ref metav1.OwnerReference, ordinal int, revision string) *corev1.Pod {
	t := set.Spec.Template.DeepCopy()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            podName(set, ordinal),
			Namespace:       set.Namespace,
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
	pod.Labels[appsv1.StatefulSetPodNameLabel] = pod.Name
	pod.Labels[appsv1.PodIndexLabel] = strconv.Itoa(ordinal)
	pod.Labels[appsv1.StatefulSetRevisionLabel] = revision
	pod.Spec.Hostname = pod.Name
	pod.Spec.Subdomain = set.Spec.ServiceName
	claims := claimsFor(set, ordinal)
	var vols []corev1.Volume
	for i := range set.Spec.VolumeClaimTemplates {
		tpl := &set.Spec.VolumeClaimTemplates[i]
		vols = append(vols, corev1.Volume{Name: tpl.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claims[i].Name},
		}})
	}
	for _, v := range pod.Spec.Volumes {
		if !hasClaimTemplate(set, v.Name) {
			vols = append(vols, v)
		}
	}
	pod.Spec.Volumes = vols
	return pod
}

func hasClaimTemplate(set *appsv1.StatefulSet, name string) bool {
	for _, c := range set.Spec.VolumeClaimTemplates {
		if c.Name == name {
			return true
		}
	}
	return false
}

// claimsFor builds the claims of ordinal: each template named
// "<claim>-<set>-<ordinal>" with the set's selector labels added.
func claimsFor(set *appsv1.StatefulSet, ordinal int) []corev1.PersistentVolumeClaim {
	var out []corev1.PersistentVolumeClaim
	for i := range set.Spec.VolumeClaimTemplates {
		c := set.Spec.VolumeClaimTemplates[i].DeepCopy()
		c.Name = claimName(set, c, ordinal)
		c.Namespace = set.Namespace
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		if set.Spec.Selector != nil {
			for k, v := range set.Spec.Selector.MatchLabels {
				c.Labels[k] = v
			}
		}
		out = append(out, *c)
	}
	return out
}

// retention returns the claim retention policy with its defaults (Retain).
func retention(set *appsv1.StatefulSet) (whenDeleted, whenScaled appsv1.PersistentVolumeClaimRetentionPolicyType) {
	whenDeleted, whenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	if p := set.Spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		if p.WhenDeleted != "" {
			whenDeleted = p.WhenDeleted
		}
		if p.WhenScaled != "" {
			whenScaled = p.WhenScaled
		}
	}
	return whenDeleted, whenScaled
}

// identityMatches says the pod carries the identity its ordinal gives it.
func identityMatches(set *appsv1.StatefulSet, pod *corev1.Pod) bool {
	parent, ord := ordinalOf(pod)
	return parent == set.Name && ord >= 0 && pod.Namespace == set.Namespace &&
		pod.Labels[appsv1.StatefulSetPodNameLabel] == pod.Name &&
		pod.Labels[appsv1.PodIndexLabel] == strconv.Itoa(ord)
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// availableAt says a ready pod has been ready for minReadySeconds at now.
func availableAt(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	if minReadySeconds == 0 {
		return true
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			return !c.LastTransitionTime.Add(time.Duration(minReadySeconds) * time.Second).After(now)
		}
	}
	return false
}

func runningAndReady(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && podReady(p)
}

func created(p *corev1.Pod) bool     { return p.UID != "" }
func terminating(p *corev1.Pod) bool { return p.DeletionTimestamp != nil }
func finished(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
}
