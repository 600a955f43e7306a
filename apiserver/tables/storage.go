package tables

import (
	"context"
	"fmt"
	"sort"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/rest"
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

// Annotations that mark the default StorageClass (GA and beta spelling).
const (
	DefaultClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	BetaDefaultClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

func isDefaultClass(c *storagev1.StorageClass) bool {
	return c.Annotations[DefaultClassAnnotation] == "true" || c.Annotations[BetaDefaultClassAnnotation] == "true"
}

// EffectiveDefaultClass names the class that defaults claims among items: the
// newest one marked default, the first by name on a tie, "" if none is marked.
func EffectiveDefaultClass(items []storagev1.StorageClass) string {
	var best *storagev1.StorageClass
	for i := range items {
		c := &items[i]
		if !isDefaultClass(c) {
			continue
		}
		if best == nil || c.CreationTimestamp.After(best.CreationTimestamp.Time) ||
			(c.CreationTimestamp.Equal(&best.CreationTimestamp) && c.Name < best.Name) {
			best = c
		}
	}
	if best == nil {
		return ""
	}
	return best.Name
}

var storageClassRows = For([]Column{
	{Name: "Provisioner", Description: storagev1.StorageClass{}.SwaggerDoc()["provisioner"]},
	{Name: "ReclaimPolicy", Description: storagev1.StorageClass{}.SwaggerDoc()["reclaimPolicy"]},
	{Name: "VolumeBindingMode", Description: storagev1.StorageClass{}.SwaggerDoc()["volumeBindingMode"]},
	{Name: "AllowVolumeExpansion", Description: storagev1.StorageClass{}.SwaggerDoc()["allowVolumeExpansion"]},
	age,
}, func(c *storagev1.StorageClass) []any {
	reclaim, binding := string(corev1.PersistentVolumeReclaimDelete), string(storagev1.VolumeBindingImmediate)
	if c.ReclaimPolicy != nil {
		reclaim = string(*c.ReclaimPolicy)
	}
	if c.VolumeBindingMode != nil {
		binding = string(*c.VolumeBindingMode)
	}
	expand := c.AllowVolumeExpansion != nil && *c.AllowVolumeExpansion
	return []any{c.Provisioner, reclaim, binding, expand, Age(c.CreationTimestamp)}
})

// StorageClasses: NAME PROVISIONER RECLAIMPOLICY VOLUMEBINDINGMODE ALLOWVOLUMEEXPANSION AGE.
// In a list the effective default class is named "NAME (default)"; like
// upstream, a single class is shown without the mark, since whether it is the
// effective default depends on the others.
var StorageClasses rest.TableConvertor = storageClassTable{}

type storageClassTable struct{}

func (storageClassTable) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	table, err := storageClassRows.ConvertToTable(ctx, obj, tableOptions)
	if err != nil {
		return nil, err
	}
	list, ok := obj.(*storagev1.StorageClassList)
	if !ok {
		return table, nil
	}
	def := EffectiveDefaultClass(list.Items)
	for i := range table.Rows {
		if def != "" && table.Rows[i].Cells[0] == def {
			table.Rows[i].Cells[0] = def + " (default)"
		}
	}
	return table, nil
}

// CSIDrivers: NAME ATTACHREQUIRED PODINFOONMOUNT STORAGECAPACITY TOKENREQUESTS REQUIRESREPUBLISH MODES AGE.
var CSIDrivers = For([]Column{
	{Name: "AttachRequired", Type: "boolean", Description: storagev1.CSIDriverSpec{}.SwaggerDoc()["attachRequired"]},
	{Name: "PodInfoOnMount", Type: "boolean", Description: storagev1.CSIDriverSpec{}.SwaggerDoc()["podInfoOnMount"]},
	{Name: "StorageCapacity", Type: "boolean", Description: storagev1.CSIDriverSpec{}.SwaggerDoc()["storageCapacity"]},
	{Name: "TokenRequests", Description: storagev1.CSIDriverSpec{}.SwaggerDoc()["tokenRequests"]},
	{Name: "RequiresRepublish", Type: "boolean", Description: storagev1.CSIDriverSpec{}.SwaggerDoc()["requiresRepublish"]},
	{Name: "Modes", Description: storagev1.CSIDriverSpec{}.SwaggerDoc()["volumeLifecycleModes"]},
	age,
}, func(d *storagev1.CSIDriver) []any {
	s := d.Spec
	tokens := "<unset>"
	if s.TokenRequests != nil {
		var audiences []string
		for _, t := range s.TokenRequests {
			audiences = append(audiences, t.Audience)
		}
		tokens = strings.Join(audiences, ",")
	}
	var modes []string
	for _, m := range s.VolumeLifecycleModes {
		modes = append(modes, string(m))
	}
	return []any{boolOr(s.AttachRequired, true), boolOr(s.PodInfoOnMount, false), boolOr(s.StorageCapacity, false),
		tokens, boolOr(s.RequiresRepublish, false), join(modes), Age(d.CreationTimestamp)}
})

func boolOr(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

// CSINodes: NAME DRIVERS AGE.
var CSINodes = For([]Column{
	{Name: "Drivers", Type: integer, Description: "Drivers indicates the number of CSI drivers registered on the node"}, age,
}, func(n *storagev1.CSINode) []any {
	return []any{int64(len(n.Spec.Drivers)), Age(n.CreationTimestamp)}
})

// VolumeAttachments: NAME ATTACHER PV NODE ATTACHED AGE.
var VolumeAttachments = For([]Column{
	{Name: "Attacher", Format: "name", Description: storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["attacher"]},
	{Name: "PV", Description: storagev1.VolumeAttachmentSource{}.SwaggerDoc()["persistentVolumeName"]},
	{Name: "Node", Description: storagev1.VolumeAttachmentSpec{}.SwaggerDoc()["nodeName"]},
	{Name: "Attached", Type: "boolean", Description: storagev1.VolumeAttachmentStatus{}.SwaggerDoc()["attached"]},
	age,
}, func(va *storagev1.VolumeAttachment) []any {
	pv := ""
	if va.Spec.Source.PersistentVolumeName != nil {
		pv = *va.Spec.Source.PersistentVolumeName
	}
	return []any{va.Spec.Attacher, pv, va.Spec.NodeName, va.Status.Attached, Age(va.CreationTimestamp)}
})
