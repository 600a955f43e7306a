package registry

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/utils/ptr"
)

// Where and how pods get their API credentials, upstream's values.
const (
	serviceAccountMountPath = "/var/run/secrets/kubernetes.io/serviceaccount"
	apiAccessVolumePrefix   = "kube-api-access-"
	rootCAConfigMap         = "kube-root-ca.crt"
	mirrorPodAnnotation     = "kubernetes.io/config.mirror"
)

// podServiceAccounts does what upstream's ServiceAccount admission does for
// a new pod: it runs as the namespace's "default" service account unless it
// names one, and, unless the pod or its service account turns automounting
// off, gets the projected kube-api-access volume (a bound token the kubelet
// requests, the cluster CA, the namespace) mounted where client-go's
// in-cluster config looks, in every container. The service account's
// imagePullSecrets apply when the pod has none.
//
// Unlike upstream, a pod naming a service account that does not exist yet is
// accepted (the kubelet cannot get its token until it does): the namespace's
// default account is created a moment after the namespace, and refusing pods
// in that window would fail controllers that race it.
func podServiceAccounts(pods, serviceAccounts *genericregistry.Store) {
	next := pods.BeginCreate
	pods.BeginCreate = func(ctx context.Context, obj runtime.Object, options *metav1.CreateOptions) (genericregistry.FinishFunc, error) {
		if pod, ok := obj.(*corev1.Pod); ok && pod.Annotations[mirrorPodAnnotation] == "" {
			admitServiceAccount(ctx, pod, serviceAccounts)
		}
		if next != nil {
			return next(ctx, obj, options)
		}
		return func(context.Context, bool) {}, nil
	}
}

func admitServiceAccount(ctx context.Context, pod *corev1.Pod, serviceAccounts *genericregistry.Store) {
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = "default"
	}
	pod.Spec.DeprecatedServiceAccount = pod.Spec.ServiceAccountName
	var sa *corev1.ServiceAccount
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	if ns == "" {
		ns = pod.Namespace
	}
	if obj, err := serviceAccounts.Get(genericapirequest.WithNamespace(ctx, ns), pod.Spec.ServiceAccountName, &metav1.GetOptions{ResourceVersion: "0"}); err == nil {
		sa, _ = obj.(*corev1.ServiceAccount)
	}
	if sa != nil && len(pod.Spec.ImagePullSecrets) == 0 {
		pod.Spec.ImagePullSecrets = append(pod.Spec.ImagePullSecrets, sa.ImagePullSecrets...)
	}
	automount := true
	if sa != nil && sa.AutomountServiceAccountToken != nil {
		automount = *sa.AutomountServiceAccountToken
	}
	if pod.Spec.AutomountServiceAccountToken != nil {
		automount = *pod.Spec.AutomountServiceAccountToken
	}
	if !automount {
		return
	}
	name := apiAccessVolumeName(pod)
	if name == "" {
		return
	}
	pod.Spec.Volumes = append(pod.Spec.Volumes, apiAccessVolume(name))
	mount := corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: serviceAccountMountPath}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if !mountsAt(&cs[i], serviceAccountMountPath) {
				cs[i].VolumeMounts = append(cs[i].VolumeMounts, mount)
			}
		}
	}
}

// apiAccessVolumeName picks a kube-api-access-xxxxx name no volume of the pod
// has; "" when the pod already has such a volume (admitted before).
func apiAccessVolumeName(pod *corev1.Pod) string {
	taken := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, apiAccessVolumePrefix) && v.Projected != nil {
			return ""
		}
		taken[v.Name] = true
	}
	for {
		if name := apiAccessVolumePrefix + utilrand.String(5); !taken[name] {
			return name
		}
	}
}

func mountsAt(c *corev1.Container, path string) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return true
		}
	}
	return false
}

func apiAccessVolume(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o644),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr.To[int64](kubeletTokenSeconds)}},
			{ConfigMap: &corev1.ConfigMapProjection{
				LocalObjectReference: corev1.LocalObjectReference{Name: rootCAConfigMap},
				Items:                []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}},
			}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{
				Path:     "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"},
			}}}},
		},
	}}}
}
