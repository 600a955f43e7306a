package deployment

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/kubeseed/kubeseed/controllers/revision"
)

// ComputeHash returns the pod-template-hash of a template, as upstream
// computes it (see revision.TemplateHash). Matching upstream exactly means a
// Deployment moved between kubeseed and upstream keeps its ReplicaSets.
func ComputeHash(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	return revision.TemplateHash(template, collisionCount)
}
