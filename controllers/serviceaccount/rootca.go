package serviceaccount

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Names and the annotation upstream uses.
const (
	DefaultServiceAccount = "default"
	RootCAConfigMap       = "kube-root-ca.crt"
	RootCAKey             = "ca.crt"
	DescriptionAnnotation = "kubernetes.io/description"
	Description           = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. " +
		"No other usage is guaranteed across distributions of Kubernetes clusters."
)

// RootCAConfigMapFor is the kube-root-ca.crt ConfigMap for a namespace.
func RootCAConfigMapFor(namespace string, ca []byte) *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:   namespace,
			Name:        RootCAConfigMap,
			Annotations: map[string]string{DescriptionAnnotation: Description},
		},
		Data: map[string]string{RootCAKey: string(ca)},
	}
}

// FixRootCA brings an existing kube-root-ca.crt in line with ca, as upstream
// does (only the data and the description annotation are ours), and says
// whether it changed anything.
func FixRootCA(cm *corev1.ConfigMap, ca []byte) bool {
	want := map[string]string{RootCAKey: string(ca)}
	if maps.Equal(cm.Data, want) && cm.Annotations[DescriptionAnnotation] != "" && len(cm.BinaryData) == 0 {
		return false
	}
	cm.Data = want
	cm.BinaryData = nil
	if cm.Annotations == nil {
		cm.Annotations = map[string]string{}
	}
	cm.Annotations[DescriptionAnnotation] = Description
	return true
}
