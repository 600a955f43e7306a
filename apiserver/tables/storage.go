package tables

import (
	"fmt"
	"sort"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
)

func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	short := map[corev1.PersistentVolumeAccessMode]string{
		corev1.ReadWriteOnce: "RWO", corev1.ReadOnlyMany: "ROX", corev1.ReadWriteMany: "RWX", corev1.ReadWriteOncePod: "RWOP"}
	var out []string
	for _, m := range modes {
		out = append(out, short[m])
	}
	return strings.Join(out, ",")
}

// PersistentVolumeClaims: NAME STATUS VOLUME CAPACITY ACCESS MODES STORAGECLASS VOLUMEATTRIBUTESCLASS AGE.
var PersistentVolumeClaims = For([]Column{
	{Name: "Status"}, {Name: "Volume"}, {Name: "Capacity"}, {Name: "Access Modes"}, {Name: "StorageClass"},
	{Name: "VolumeAttributesClass"}, age, {Name: "VolumeMode", Wide: true},
}, func(p *corev1.PersistentVolumeClaim) []any {
	capacity := ""
	if q, ok := p.Status.Capacity[corev1.ResourceStorage]; ok {
		capacity = q.String()
	}
	class, vac, mode := "<unset>", "<unset>", "<unset>"
	if p.Spec.StorageClassName != nil {
		class = *p.Spec.StorageClassName
	}
	if p.Spec.VolumeAttributesClassName != nil {
		vac = *p.Spec.VolumeAttributesClassName
	}
	if p.Spec.VolumeMode != nil {
		mode = string(*p.Spec.VolumeMode)
	}
	status := string(p.Status.Phase)
	if p.DeletionTimestamp != nil {
		status = "Terminating"
	}
	return []any{status, p.Spec.VolumeName, capacity, accessModes(p.Status.AccessModes), class, vac, Age(p.CreationTimestamp), mode}
})

// PersistentVolumes: NAME CAPACITY ACCESS MODES RECLAIM POLICY STATUS CLAIM STORAGECLASS VOLUMEATTRIBUTESCLASS REASON AGE.
var PersistentVolumes = For([]Column{
	{Name: "Capacity"}, {Name: "Access Modes"}, {Name: "Reclaim Policy"}, {Name: "Status"}, {Name: "Claim"},
	{Name: "StorageClass"}, {Name: "VolumeAttributesClass"}, {Name: "Reason"}, age, {Name: "VolumeMode", Wide: true},
}, func(p *corev1.PersistentVolume) []any {
	capacity := ""
	if q, ok := p.Spec.Capacity[corev1.ResourceStorage]; ok {
		capacity = q.String()
	}
	claim := ""
	if r := p.Spec.ClaimRef; r != nil {
		claim = r.Namespace + "/" + r.Name
	}
	vac, mode := "<unset>", "<unset>"
	if p.Spec.VolumeAttributesClassName != nil {
		vac = *p.Spec.VolumeAttributesClassName
	}
	if p.Spec.VolumeMode != nil {
		mode = string(*p.Spec.VolumeMode)
	}
	status := string(p.Status.Phase)
	if p.DeletionTimestamp != nil {
		status = "Terminating"
	}
	return []any{capacity, accessModes(p.Spec.AccessModes), string(p.Spec.PersistentVolumeReclaimPolicy), status, claim,
		p.Spec.StorageClassName, vac, p.Status.Reason, Age(p.CreationTimestamp), mode}
})

// HorizontalPodAutoscalers: NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE.
var HorizontalPodAutoscalers = For([]Column{
	{Name: "Reference"}, {Name: "Targets"}, {Name: "MinPods", Type: integer}, {Name: "MaxPods", Type: integer},
	{Name: "Replicas", Type: integer}, age,
}, func(h *autoscalingv1.HorizontalPodAutoscaler) []any {
	ref := h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name
	target := "<unknown>"
	if h.Status.CurrentCPUUtilizationPercentage != nil {
		target = fmt.Sprintf("cpu: %d%%", *h.Status.CurrentCPUUtilizationPercentage)
	}
	if h.Spec.TargetCPUUtilizationPercentage != nil {
		target += fmt.Sprintf("/%d%%", *h.Spec.TargetCPUUtilizationPercentage)
	}
	return []any{ref, target, replicas(h.Spec.MinReplicas), int64(h.Spec.MaxReplicas), int64(h.Status.CurrentReplicas), Age(h.CreationTimestamp)}
})

// PodDisruptionBudgets: NAME MIN AVAILABLE MAX UNAVAILABLE ALLOWED DISRUPTIONS AGE.
var PodDisruptionBudgets = For([]Column{
	{Name: "Min Available"}, {Name: "Max Unavailable"}, {Name: "Allowed Disruptions", Type: integer}, age,
}, func(p *policyv1.PodDisruptionBudget) []any {
	minA, maxU := "N/A", "N/A"
	if p.Spec.MinAvailable != nil {
		minA = p.Spec.MinAvailable.String()
	}
	if p.Spec.MaxUnavailable != nil {
		maxU = p.Spec.MaxUnavailable.String()
	}
	return []any{minA, maxU, int64(p.Status.DisruptionsAllowed), Age(p.CreationTimestamp)}
})

// ResourceQuotas: NAME REQUEST LIMIT AGE (upstream puts age second).
var ResourceQuotas = For([]Column{age, {Name: "Request"}, {Name: "Limit"}}, func(q *corev1.ResourceQuota) []any {
	var req, lim []string
	names := make([]string, 0, len(q.Status.Hard))
	for n := range q.Status.Hard {
		names = append(names, string(n))
	}
	sort.Strings(names)
	for _, n := range names {
		hard, used := q.Status.Hard[corev1.ResourceName(n)], q.Status.Used[corev1.ResourceName(n)]
		item := fmt.Sprintf("%s: %s/%s", n, used.String(), hard.String())
		if strings.HasPrefix(n, "limits.") {
			lim = append(lim, item)
		} else {
			req = append(req, item)
		}
	}
	return []any{Age(q.CreationTimestamp), strings.Join(req, ", "), strings.Join(lim, ", ")}
})
