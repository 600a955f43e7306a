package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Limits upstream puts on storage objects.
const (
	maxParameters       = 512
	maxParametersSize   = 256 << 10
	maxAttachMetadata   = 256 << 10
	maxVolumeErrorBytes = 1024
	maxCSIDriverName    = 63
	maxCSINodeID        = 256
)

var (
	reclaimPolicies    = sets.New(corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain)
	volumeBindingModes = sets.New(storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer)
	fsGroupPolicies    = sets.New(storagev1.ReadWriteOnceWithFSTypeFSGroupPolicy, storagev1.FileFSGroupPolicy, storagev1.NoneFSGroupPolicy)
	lifecycleModes     = sets.New(storagev1.VolumeLifecyclePersistent, storagev1.VolumeLifecycleEphemeral)
)

// StorageClass validates a storage.k8s.io/v1 StorageClass.
func StorageClass(c *storagev1.StorageClass) field.ErrorList {
	var errs field.ErrorList
	p := field.NewPath("provisioner")
	if c.Provisioner == "" {
		errs = append(errs, field.Required(p, ""))
	} else {
		// Provisioner names are compared case-insensitively, as upstream does.
		errs = append(errs, qualifiedName(p, c.Provisioner, strings.ToLower(c.Provisioner))...)
	}
	errs = append(errs, parameters(c.Parameters, field.NewPath("parameters"))...)
	if c.ReclaimPolicy != nil && *c.ReclaimPolicy != "" && !reclaimPolicies.Has(*c.ReclaimPolicy) {
		errs = append(errs, supported(field.NewPath("reclaimPolicy"), *c.ReclaimPolicy, reclaimPolicies))
	}
	if c.VolumeBindingMode == nil {
		errs = append(errs, field.Required(field.NewPath("volumeBindingMode"), ""))
	} else if !volumeBindingModes.Has(*c.VolumeBindingMode) {
		errs = append(errs, supported(field.NewPath("volumeBindingMode"), *c.VolumeBindingMode, volumeBindingModes))
	}
	errs = append(errs, topologies(c.AllowedTopologies, field.NewPath("allowedTopologies"))...)
	return errs
}

// StorageClassUpdate keeps what provisioned volumes depend on fixed.
func StorageClassUpdate(c, old *storagev1.StorageClass) field.ErrorList {
	errs := apivalidation.ValidateImmutableField(c.Parameters, old.Parameters, field.NewPath("parameters"))
	errs = append(errs, apivalidation.ValidateImmutableField(c.Provisioner, old.Provisioner, field.NewPath("provisioner"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(c.ReclaimPolicy, old.ReclaimPolicy, field.NewPath("reclaimPolicy"))...)
	errs = append(errs, apivalidation.ValidateImmutableField(c.VolumeBindingMode, old.VolumeBindingMode, field.NewPath("volumeBindingMode"))...)
	return errs
}

// qualifiedName reports shown (the user's spelling) when checked is not a
// qualified name ("example.com/name").
func qualifiedName(p *field.Path, shown, checked string) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(checked) {
		errs = append(errs, field.Invalid(p, shown, msg))
	}
	return errs
}

func parameters(params map[string]string, p *field.Path) field.ErrorList {
	if len(params) > maxParameters {
		return field.ErrorList{field.TooLong(p, "", maxParameters)}
	}
	var errs field.ErrorList
	size := 0
	for k, v := range params {
		if k == "" {
			errs = append(errs, field.Invalid(p, k, "field can not be empty."))
		}
		size += len(k) + len(v)
	}
	if size > maxParametersSize {
		errs = append(errs, field.TooLong(p, "", maxParametersSize))
	}
	return errs
}

// topologies checks each allowed topology term: qualified keys with values,
// no key twice in a term and no term twice.
func topologies(terms []corev1.TopologySelectorTerm, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	var seen []map[string]sets.Set[string]
	for i, term := range terms {
		tp := p.Index(i).Child("matchLabelExpressions")
		exprs := map[string]sets.Set[string]{}
		for j, e := range term.MatchLabelExpressions {
			ep := tp.Index(j)
			errs = append(errs, qualifiedName(ep.Child("key"), e.Key, e.Key)...)
			if len(e.Values) == 0 {
				errs = append(errs, field.Required(ep.Child("values"), ""))
			}
			if _, dup := exprs[e.Key]; dup {
				errs = append(errs, field.Duplicate(ep.Child("key"), e.Key))
			}
			exprs[e.Key] = sets.New(e.Values...)
		}
		for _, s := range seen {
			if apiequality.Semantic.DeepEqual(s, exprs) {
				errs = append(errs, field.Duplicate(tp, ""))
			}
		}
		seen = append(seen, exprs)
	}
	return errs
}

// csiDriverName checks a CSI driver name: required, at most 63 characters,
// a DNS subdomain once lower-cased.
func csiDriverName(name string, p *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	var errs field.ErrorList
	if len(name) > maxCSIDriverName {
		errs = append(errs, field.TooLong(p, "", maxCSIDriverName))
	}
	for _, msg := range validation.IsDNS1123Subdomain(strings.ToLower(name)) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// CSIDriver validates a storage.k8s.io/v1 CSIDriver. The paths are upstream's,
// including its "attachedRequired" spelling.
func CSIDriver(d *storagev1.CSIDriver) field.ErrorList {
	var errs field.ErrorList
	s := &d.Spec
	for _, f := range []struct {
		path string
		v    *bool
	}{
		{"attachedRequired", s.AttachRequired}, {"podInfoOnMount", s.PodInfoOnMount}, {"storageCapacity", s.StorageCapacity},
		{"seLinuxMount", s.SELinuxMount}, {"preventPodSchedulingIfMissing", s.PreventPodSchedulingIfMissing},
	} {
		if f.v == nil {
			errs = append(errs, field.Required(spec.Child(f.path), ""))
		}
	}
	if s.FSGroupPolicy != nil && !fsGroupPolicies.Has(*s.FSGroupPolicy) {
		errs = append(errs, supported(spec.Child("fsGroupPolicy"), *s.FSGroupPolicy, fsGroupPolicies))
	}
	for _, m := range s.VolumeLifecycleModes {
		if !lifecycleModes.Has(m) {
			errs = append(errs, supported(spec.Child("volumeLifecycleModes"), m, lifecycleModes))
		}
	}
	audiences := sets.New[string]()
	for i, tr := range s.TokenRequests {
		tp := spec.Child("tokenRequests").Index(i)
		if audiences.Has(tr.Audience) {
			errs = append(errs, field.Duplicate(tp.Child("audience"), tr.Audience))
			continue
		}
		audiences.Insert(tr.Audience)
		if e := tr.ExpirationSeconds; e != nil && *e < 600 {
			errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *e, "may not specify a duration less than 10 minutes"))
		} else if e != nil && *e > 1<<32 {
			errs = append(errs, field.Invalid(tp.Child("expirationSeconds"), *e, "may not specify a duration larger than 2^32 seconds"))
		}
	}
	if s.ServiceAccountTokenInSecrets != nil && len(s.TokenRequests) == 0 {
		errs = append(errs, field.Invalid(spec.Child("serviceAccountTokenInSecrets"), s.ServiceAccountTokenInSecrets,
			"serviceAccountTokenInSecrets is set but no tokenRequests are specified"))
	}
	return errs
}

// CSIDriverUpdate keeps attachRequired and the lifecycle modes fixed.
func CSIDriverUpdate(d, old *storagev1.CSIDriver) field.ErrorList {
	errs := apivalidation.ValidateImmutableField(d.Spec.AttachRequired, old.Spec.AttachRequired, spec.Child("attachedRequired"))
	return append(errs, apivalidation.ValidateImmutableField(d.Spec.VolumeLifecycleModes, old.Spec.VolumeLifecycleModes, spec.Child("volumeLifecycleModes"))...)
}

// CSINode validates a storage.k8s.io/v1 CSINode: each driver named once,
// with a node ID and qualified topology keys.
func CSINode(n *storagev1.CSINode) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, d := range n.Spec.Drivers {
		dp := spec.Child("drivers").Index(i)
		errs = append(errs, csiDriverName(d.Name, dp.Child("name"))...)
		if d.NodeID == "" {
			errs = append(errs, field.Required(dp.Child("nodeID"), ""))
		} else if len(d.NodeID) > maxCSINodeID {
			errs = append(errs, field.Invalid(dp.Child("nodeID"), d.NodeID, fmt.Sprintf("must be %d characters or less", maxCSINodeID)))
		}
		if a := d.Allocatable; a != nil && a.Count != nil && *a.Count < 0 {
			errs = append(errs, field.Invalid(dp.Child("allocatable", "count"), *a.Count, "must be greater than or equal to 0"))
		}
		if names.Has(d.Name) {
			errs = append(errs, field.Duplicate(dp.Child("name"), d.Name))
		}
		names.Insert(d.Name)
		keys := sets.New[string]()
		for _, k := range d.TopologyKeys {
			if k == "" {
				errs = append(errs, field.Required(dp, k))
			}
			if keys.Has(k) {
				errs = append(errs, field.Duplicate(dp, k))
			}
			keys.Insert(k)
			errs = append(errs, qualifiedName(dp, k, k)...)
		}
	}
	return errs
}

// CSINodeUpdate keeps a registered driver's entry fixed except its
// allocatable count (MutableCSINodeAllocatableCount is on in 1.37).
func CSINodeUpdate(n, old *storagev1.CSINode) field.ErrorList {
	var errs field.ErrorList
	for _, o := range old.Spec.Drivers {
		for _, d := range n.Spec.Drivers {
			if o.Name != d.Name {
				continue
			}
			o, d := o.DeepCopy(), d.DeepCopy()
			o.Allocatable, d.Allocatable = nil, nil
			errs = append(errs, apivalidation.ValidateImmutableField(d, o, spec.Child("drivers"))...)
		}
	}
	return errs
}

// VolumeAttachment validates a storage.k8s.io/v1 VolumeAttachment: an
// attacher, exactly one source and a node.
func VolumeAttachment(va *storagev1.VolumeAttachment) field.ErrorList {
	errs := csiDriverName(va.Spec.Attacher, spec.Child("attacher"))
	src := spec.Child("source")
	switch s := va.Spec.Source; {
	case s.InlineVolumeSpec == nil && s.PersistentVolumeName == nil:
		errs = append(errs, field.Required(src, "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
	case s.InlineVolumeSpec != nil && s.PersistentVolumeName != nil:
		errs = append(errs, field.Forbidden(src, "must specify exactly one of inlineVolumeSpec and persistentVolumeName"))
	case s.PersistentVolumeName != nil && *s.PersistentVolumeName == "":
		errs = append(errs, field.Required(src.Child("persistentVolumeName"), "must specify non empty persistentVolumeName"))
	case s.PersistentVolumeName != nil:
		for _, msg := range apivalidation.NameIsDNSSubdomain(*s.PersistentVolumeName, false) {
			errs = append(errs, field.Invalid(src.Child("persistentVolumeName"), *s.PersistentVolumeName, msg))
		}
	}
	for _, msg := range apivalidation.NameIsDNSSubdomain(va.Spec.NodeName, false) {
		errs = append(errs, field.Invalid(spec.Child("nodeName"), va.Spec.NodeName, msg))
	}
	return append(errs, volumeAttachmentStatus(&va.Status)...)
}

func volumeAttachmentStatus(s *storagev1.VolumeAttachmentStatus) field.ErrorList {
	var errs field.ErrorList
	status := field.NewPath("status")
	size := 0
	for k, v := range s.AttachmentMetadata {
		size += len(k) + len(v)
	}
	if size > maxAttachMetadata {
		errs = append(errs, field.TooLong(status.Child("attachmentMetadata"), "", maxAttachMetadata))
	}
	for _, ve := range []struct {
		name string
		e    *storagev1.VolumeError
	}{{"attachError", s.AttachError}, {"detachError", s.DetachError}} {
		name, e := ve.name, ve.e
		if e == nil {
			continue
		}
		if len(e.Message) > maxVolumeErrorBytes {
			errs = append(errs, field.TooLong(status.Child(name, "message"), "", maxVolumeErrorBytes))
		}
		if e.ErrorCode != nil && *e.ErrorCode < 0 {
			errs = append(errs, field.Invalid(status.Child(name, "errorCode"), *e.ErrorCode, validation.InclusiveRangeError(0, 1<<31-1)))
		}
	}
	return errs
}

// VolumeAttachmentUpdate keeps the spec fixed: an attachment is recreated, never moved.
func VolumeAttachmentUpdate(va, old *storagev1.VolumeAttachment) field.ErrorList {
	return apivalidation.ValidateImmutableField(va.Spec, old.Spec, spec)
}

// VolumeAttachmentStatusUpdate validates what the attacher reports.
func VolumeAttachmentStatusUpdate(va, _ *storagev1.VolumeAttachment) field.ErrorList {
	return volumeAttachmentStatus(&va.Status)
}
