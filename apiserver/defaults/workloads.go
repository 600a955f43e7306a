package defaults

import (
	"math"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Deployment defaults an apps/v1 Deployment.
func Deployment(d *appsv1.Deployment) {
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = ptr.To[int32](1)
	}
	if d.Spec.Strategy.Type == "" {
		d.Spec.Strategy.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if d.Spec.Strategy.RollingUpdate == nil {
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if d.Spec.Strategy.RollingUpdate.MaxUnavailable == nil {
			d.Spec.Strategy.RollingUpdate.MaxUnavailable = intOrPercent("25%")
		}
		if d.Spec.Strategy.RollingUpdate.MaxSurge == nil {
			d.Spec.Strategy.RollingUpdate.MaxSurge = intOrPercent("25%")
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	if d.Spec.ProgressDeadlineSeconds == nil {
		d.Spec.ProgressDeadlineSeconds = ptr.To[int32](600)
	}
	PodTemplateSpec(&d.Spec.Template)
}

// ReplicaSet defaults an apps/v1 ReplicaSet.
func ReplicaSet(rs *appsv1.ReplicaSet) {
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = ptr.To[int32](1)
	}
	PodTemplateSpec(&rs.Spec.Template)
}

// ReplicationController defaults a v1 ReplicationController.
func ReplicationController(rc *corev1.ReplicationController) {
	if rc.Spec.Replicas == nil {
		rc.Spec.Replicas = ptr.To[int32](1)
	}
	if rc.Spec.Template != nil {
		// An empty selector means "the template's labels", as upstream defaults it.
		if len(rc.Spec.Selector) == 0 {
			rc.Spec.Selector = rc.Spec.Template.Labels
		}
		if len(rc.Labels) == 0 {
			rc.Labels = rc.Spec.Template.Labels
		}
		PodTemplateSpec(rc.Spec.Template)
	}
}

// StatefulSet defaults an apps/v1 StatefulSet.
func StatefulSet(s *appsv1.StatefulSet) {
	if s.Spec.Replicas == nil {
		s.Spec.Replicas = ptr.To[int32](1)
	}
	if s.Spec.PodManagementPolicy == "" {
		s.Spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	if s.Spec.UpdateStrategy.Type == "" {
		s.Spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
	}
	if s.Spec.UpdateStrategy.Type == appsv1.RollingUpdateStatefulSetStrategyType {
		if s.Spec.UpdateStrategy.RollingUpdate == nil {
			s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
		if s.Spec.UpdateStrategy.RollingUpdate.Partition == nil {
			s.Spec.UpdateStrategy.RollingUpdate.Partition = ptr.To[int32](0)
		}
	}
	if s.Spec.RevisionHistoryLimit == nil {
		s.Spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	if s.Spec.PersistentVolumeClaimRetentionPolicy == nil {
		s.Spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	if s.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted == "" {
		s.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if s.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled == "" {
		s.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	for i := range s.Spec.VolumeClaimTemplates {
		pvcSpec(&s.Spec.VolumeClaimTemplates[i].Spec)
		if s.Spec.VolumeClaimTemplates[i].APIVersion == "" {
			s.Spec.VolumeClaimTemplates[i].APIVersion = "v1"
		}
		if s.Spec.VolumeClaimTemplates[i].Kind == "" {
			s.Spec.VolumeClaimTemplates[i].Kind = "PersistentVolumeClaim"
		}
	}
	PodTemplateSpec(&s.Spec.Template)
}

// DaemonSet defaults an apps/v1 DaemonSet.
func DaemonSet(d *appsv1.DaemonSet) {
	if d.Spec.UpdateStrategy.Type == "" {
		d.Spec.UpdateStrategy.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if d.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if d.Spec.UpdateStrategy.RollingUpdate == nil {
			d.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		ru := d.Spec.UpdateStrategy.RollingUpdate
		if ru.MaxUnavailable == nil {
			ru.MaxUnavailable = intOrInt(1)
		}
		if ru.MaxSurge == nil {
			ru.MaxSurge = intOrInt(0)
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = ptr.To[int32](10)
	}
	PodTemplateSpec(&d.Spec.Template)
}

// Job defaults a batch/v1 Job.
func Job(j *batchv1.Job) {
	// Neither set means one pod; only parallelism set means a work queue
	// (completions stays nil); only completions set means one at a time.
	if j.Spec.Completions == nil && j.Spec.Parallelism == nil {
		j.Spec.Completions = ptr.To[int32](1)
		j.Spec.Parallelism = ptr.To[int32](1)
	}
	if j.Spec.Parallelism == nil {
		j.Spec.Parallelism = ptr.To[int32](1)
	}
	if j.Spec.BackoffLimit == nil {
		if j.Spec.BackoffLimitPerIndex != nil {
			j.Spec.BackoffLimit = ptr.To[int32](math.MaxInt32)
		} else {
			j.Spec.BackoffLimit = ptr.To[int32](6)
		}
	}
	if j.Spec.CompletionMode == nil {
		j.Spec.CompletionMode = ptr.To(batchv1.NonIndexedCompletion)
	}
	if j.Spec.Suspend == nil {
		j.Spec.Suspend = ptr.To(false)
	}
	if j.Spec.PodReplacementPolicy == nil {
		if j.Spec.PodFailurePolicy != nil {
			j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
		} else {
			j.Spec.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
		}
	}
	PodTemplateSpec(&j.Spec.Template)
}

// CronJob defaults a batch/v1 CronJob.
func CronJob(c *batchv1.CronJob) {
	if c.Spec.ConcurrencyPolicy == "" {
		c.Spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if c.Spec.Suspend == nil {
		c.Spec.Suspend = ptr.To(false)
	}
	if c.Spec.SuccessfulJobsHistoryLimit == nil {
		c.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](3)
	}
	if c.Spec.FailedJobsHistoryLimit == nil {
		c.Spec.FailedJobsHistoryLimit = ptr.To[int32](1)
	}
	jt := &c.Spec.JobTemplate.Spec
	if jt.Completions == nil && jt.Parallelism == nil {
		jt.Completions = ptr.To[int32](1)
		jt.Parallelism = ptr.To[int32](1)
	}
	if jt.Parallelism == nil {
		jt.Parallelism = ptr.To[int32](1)
	}
	if jt.BackoffLimit == nil {
		jt.BackoffLimit = ptr.To[int32](6)
	}
	if jt.CompletionMode == nil {
		jt.CompletionMode = ptr.To(batchv1.NonIndexedCompletion)
	}
	if jt.Suspend == nil {
		jt.Suspend = ptr.To(false)
	}
	if jt.PodReplacementPolicy == nil {
		jt.PodReplacementPolicy = ptr.To(batchv1.TerminatingOrFailed)
	}
	PodTemplateSpec(&jt.Template)
}

func pvcSpec(s *corev1.PersistentVolumeClaimSpec) {
	if s.VolumeMode == nil {
		s.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
	}
}

// PersistentVolumeClaim defaults a v1 PersistentVolumeClaim.
func PersistentVolumeClaim(p *corev1.PersistentVolumeClaim) {
	pvcSpec(&p.Spec)
	if p.Status.Phase == "" {
		p.Status.Phase = corev1.ClaimPending
	}
}
