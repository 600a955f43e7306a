package statefulset

import (
	"encoding/json"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/kubeseed/kubeseed/controllers/revision"
)

// patchOf is what a revision of set stores (see revision.TemplatePatch).
func patchOf(set *appsv1.StatefulSet) ([]byte, error) {
	return revision.TemplatePatch(set)
}

// applyRevision returns set with the spec a revision recorded.
func applyRevision(set *appsv1.StatefulSet, patch []byte) (*appsv1.StatefulSet, error) {
	clone := set.DeepCopy()
	orig, err := json.Marshal(clone)
	if err != nil {
		return nil, err
	}
	patched, err := strategicpatch.StrategicMergePatch(orig, patch, &appsv1.StatefulSet{})
	if err != nil {
		return nil, fmt.Errorf("applying revision: %w", err)
	}
	var restored appsv1.StatefulSet
	if err := json.Unmarshal(patched, &restored); err != nil {
		return nil, err
	}
	clone.Spec = restored.Spec
	return clone, nil
}
