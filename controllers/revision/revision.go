package revision

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/dump"
)

// HashLabel is the label a ControllerRevision carries with its hash.
const HashLabel = "controller.kubernetes.io/hash"

// Hash is upstream's HashControllerRevision for raw data: FNV-32 (not 32a)
// over the bytes, then the collision count in decimal when set, the decimal
// sum encoded with rand.SafeEncodeString.
func Hash(data []byte, collisionCount *int32) string {
	h := fnv.New32()
	h.Write(data)
	if collisionCount != nil {
		h.Write([]byte(strconv.FormatInt(int64(*collisionCount), 10)))
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// Name is "<parent>-<hash>", the parent name cut to fit the name limit.
func Name(parent, hash string) string {
	if len(parent) > 223 {
		parent = parent[:223]
	}
	return parent + "-" + hash
}

// New builds the ControllerRevision number rev of owner holding data, with
// the template's labels plus the hash label and a controller reference.
func New(owner metav1.Object, ownerRef metav1.OwnerReference, templateLabels map[string]string, data []byte, rev int64, collisionCount *int32) *appsv1.ControllerRevision {
	labels := make(map[string]string, len(templateLabels)+1)
	for k, v := range templateLabels {
		labels[k] = v
	}
	hash := Hash(data, collisionCount)
	labels[HashLabel] = hash
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            Name(owner.GetName(), hash),
			Namespace:       owner.GetNamespace(),
			Labels:          labels,
			OwnerReferences: []metav1.OwnerReference{ownerRef},
		},
		Data:     runtime.RawExtension{Raw: data},
		Revision: rev,
	}
}

// Sort orders revisions by number, then creation time, then name.
func Sort(revs []*appsv1.ControllerRevision) {
	sort.SliceStable(revs, func(i, j int) bool {
		a, b := revs[i], revs[j]
		if a.Revision != b.Revision {
			return a.Revision < b.Revision
		}
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Name < b.Name
	})
}

// Next is one more than the highest revision number (1 for none); revs must
// be sorted.
func Next(revs []*appsv1.ControllerRevision) int64 {
	if len(revs) == 0 {
		return 1
	}
	return revs[len(revs)-1].Revision + 1
}

// Equal reports revisions holding the same data.
func Equal(a, b *appsv1.ControllerRevision) bool {
	if a == nil || b == nil {
		return a == b
	}
	return bytes.Equal(a.Data.Raw, b.Data.Raw)
}

// FindEqual returns the revisions holding needle's data, in order.
func FindEqual(revs []*appsv1.ControllerRevision, needle *appsv1.ControllerRevision) []*appsv1.ControllerRevision {
	var out []*appsv1.ControllerRevision
	for _, r := range revs {
		if Equal(r, needle) {
			out = append(out, r)
		}
	}
	return out
}

// ToDelete returns the oldest revisions not in live beyond limit.
func ToDelete(revs []*appsv1.ControllerRevision, live map[string]bool, limit int) []*appsv1.ControllerRevision {
	var dead []*appsv1.ControllerRevision
	for _, r := range revs {
		if !live[r.Name] {
			dead = append(dead, r)
		}
	}
	if len(dead) <= limit {
		return nil
	}
	Sort(dead)
	return dead[:len(dead)-limit]
}

// TemplateHash is upstream's pod template hash (controller.ComputeHash), the
// pod-template-hash of Deployments and the controller-revision-hash of
// DaemonSets: FNV-32a over the template's deep dump (k8s.io/utils/dump.ForHash,
// the rendering upstream hashes), then the collision count as 8
// little-endian bytes when set, the decimal sum encoded with
// rand.SafeEncodeString.
func TemplateHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(*template))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}

// TemplatePatch is what StatefulSet and DaemonSet revisions store: a
// strategic merge patch replacing spec.template, rendered exactly as
// upstream's (the object's JSON round-tripped through a generic map, so keys
// are sorted), which makes revision hashes and names match upstream's.
func TemplatePatch(obj any) ([]byte, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	spec, _ := raw["spec"].(map[string]any)
	template, _ := spec["template"].(map[string]any)
	if template == nil {
		return nil, fmt.Errorf("object has no spec.template")
	}
	template["$patch"] = "replace"
	return json.Marshal(map[string]any{"spec": map[string]any{"template": template}})
}
