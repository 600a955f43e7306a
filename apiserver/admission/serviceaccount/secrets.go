package serviceaccount

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// secretReferences refuses the first secret the pod references that its
// service account does not list: secret volumes, then the init and the app
// containers' env and envFrom, then image pull secrets (against the
// account's imagePullSecrets), in upstream's order and words.
func secretReferences(sa *corev1.ServiceAccount, pod *corev1.Pod) error {
	mountable := mountableSecrets(sa)
	for _, v := range pod.Spec.Volumes {
		if s := v.Secret; s != nil && !mountable.Has(s.SecretName) {
			return fmt.Errorf("volume with secret.secretName=%q is not allowed because service account %s does not reference that secret", s.SecretName, sa.Name)
		}
	}
	for _, c := range pod.Spec.InitContainers {
		if err := containerSecretReferences("init container", c.Name, c.Env, c.EnvFrom, mountable, sa.Name); err != nil {
			return err
		}
	}
	for _, c := range pod.Spec.Containers {
		if err := containerSecretReferences("container", c.Name, c.Env, c.EnvFrom, mountable, sa.Name); err != nil {
			return err
		}
	}
	pull := sets.New[string]()
	for _, s := range sa.ImagePullSecrets {
		pull.Insert(s.Name)
	}
	for i, s := range pod.Spec.ImagePullSecrets {
		if !pull.Has(s.Name) {
			return fmt.Errorf("imagePullSecrets[%d].name=%q is not allowed because service account %s does not reference that imagePullSecret", i, s.Name, sa.Name)
		}
	}
	return nil
}

// ephemeralSecretReferences is secretReferences for the ephemeral
// containers a pods/ephemeralcontainers update adds.
func ephemeralSecretReferences(sa *corev1.ServiceAccount, pod *corev1.Pod) error {
	mountable := mountableSecrets(sa)
	for _, c := range pod.Spec.EphemeralContainers {
		if err := containerSecretReferences("ephemeral container", c.Name, c.Env, c.EnvFrom, mountable, sa.Name); err != nil {
			return err
		}
	}
	return nil
}

func mountableSecrets(sa *corev1.ServiceAccount) sets.Set[string] {
	s := sets.New[string]()
	for _, ref := range sa.Secrets {
		s.Insert(ref.Name)
	}
	return s
}

func containerSecretReferences(kind, name string, env []corev1.EnvVar, envFrom []corev1.EnvFromSource, mountable sets.Set[string], account string) error {
	for _, e := range env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && !mountable.Has(e.ValueFrom.SecretKeyRef.Name) {
			return fmt.Errorf("%s %s with envVar %s referencing secret.secretName=%q is not allowed because service account %s does not reference that secret", kind, name, e.Name, e.ValueFrom.SecretKeyRef.Name, account)
		}
	}
	for _, e := range envFrom {
		if e.SecretRef != nil && !mountable.Has(e.SecretRef.Name) {
			return fmt.Errorf("%s %s with envFrom referencing secret.secretName=%q is not allowed because service account %s does not reference that secret", kind, name, e.SecretRef.Name, account)
		}
	}
	return nil
}

// mirrorPodReferences refuses a mirror pod that names a service account,
// references any secret or projects a service account token: the kubelet
// that posts it is not trusted with them.
func mirrorPodReferences(pod *corev1.Pod) error {
	if pod.Spec.ServiceAccountName != "" {
		return errors.New("a mirror pod may not reference service accounts")
	}
	if referencesSecret(pod) {
		return errors.New("a mirror pod may not reference secrets")
	}
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil {
				return errors.New("a mirror pod may not use ServiceAccountToken volume projections")
			}
		}
	}
	return nil
}

// referencesSecret tells whether the pod names a secret anywhere upstream
// looks: image pull secrets, any container's env and envFrom, and the
// volume sources that take a secret.
func referencesSecret(pod *corev1.Pod) bool {
	for _, s := range pod.Spec.ImagePullSecrets {
		if s.Name != "" {
			return true
		}
	}
	containerRefs := func(env []corev1.EnvVar, envFrom []corev1.EnvFromSource) bool {
		for _, e := range envFrom {
			if e.SecretRef != nil && e.SecretRef.Name != "" {
				return true
			}
		}
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name != "" {
				return true
			}
		}
		return false
	}
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for _, c := range cs {
			if containerRefs(c.Env, c.EnvFrom) {
				return true
			}
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if containerRefs(c.Env, c.EnvFrom) {
			return true
		}
	}
	for _, v := range pod.Spec.Volumes {
		if volumeSecret(&v.VolumeSource) != "" {
			return true
		}
	}
	return false
}

// volumeSecret is a secret the volume source names, "" if none.
func volumeSecret(s *corev1.VolumeSource) string {
	ref := func(r *corev1.LocalObjectReference) string {
		if r == nil {
			return ""
		}
		return r.Name
	}
	switch {
	case s.AzureFile != nil:
		return s.AzureFile.SecretName
	case s.CephFS != nil:
		return ref(s.CephFS.SecretRef)
	case s.Cinder != nil:
		return ref(s.Cinder.SecretRef)
	case s.FlexVolume != nil:
		return ref(s.FlexVolume.SecretRef)
	case s.Projected != nil:
		for _, p := range s.Projected.Sources {
			if p.Secret != nil && p.Secret.Name != "" {
				return p.Secret.Name
			}
		}
	case s.RBD != nil:
		return ref(s.RBD.SecretRef)
	case s.Secret != nil:
		return s.Secret.SecretName
	case s.ScaleIO != nil:
		return ref(s.ScaleIO.SecretRef)
	case s.ISCSI != nil:
		return ref(s.ISCSI.SecretRef)
	case s.StorageOS != nil:
		return ref(s.StorageOS.SecretRef)
	case s.CSI != nil:
		return ref(s.CSI.NodePublishSecretRef)
	}
	return ""
}
