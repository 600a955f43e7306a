package deployment

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/dump"
)

// ComputeHash returns the pod-template-hash of a template: FNV-32a over the
// template's deep dump (k8s.io/utils/dump.ForHash, the rendering upstream
// hashes), then the collision count as 8 little-endian bytes when set, the
// decimal sum encoded with rand.SafeEncodeString. Matching upstream exactly
// means a Deployment moved between kubeseed and upstream keeps its
// ReplicaSets.
func ComputeHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(*template))
	if collisionCount != nil {
		b := make([]byte, 8)
		binary.LittleEndian.PutUint32(b, uint32(*collisionCount))
		h.Write(b)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}
