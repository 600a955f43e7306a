package job

import (
	"fmt"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// reasonPodFailurePolicy is the condition reason when a FailJob rule matched.
const reasonPodFailurePolicy = batchv1.JobReasonPodFailurePolicy

// onlyReplaceFailed says terminating pods neither count as failed nor get
// replaced until they reach phase Failed: podReplacementPolicy Failed, which
// a podFailurePolicy implies.
func onlyReplaceFailed(j *batchv1.Job) bool {
	if j.Spec.PodReplacementPolicy != nil {
		return *j.Spec.PodReplacementPolicy == batchv1.Failed
	}
	return j.Spec.PodFailurePolicy != nil
}

// failedFor says a pod counts as failed for this Job.
func failedFor(j *batchv1.Job, p *corev1.Pod) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	if onlyReplaceFailed(j) {
		return false
	}
	return podFailed(p)
}

// matchFailurePolicy applies the first matching podFailurePolicy rule to a
// failed pod, as upstream: it returns the FailJob message when the Job must
// fail, and whether the failure counts towards backoffLimit (Ignore does not).
// FailIndex (with backoffLimitPerIndex) is reported by failsIndex.
func matchFailurePolicy(policy *batchv1.PodFailurePolicy, p *corev1.Pod) (*string, bool) {
	msg, counts, _ := matchRule(policy, p)
	return msg, counts
}

// failsIndex says a FailIndex rule matches the failed pod.
func failsIndex(policy *batchv1.PodFailurePolicy, p *corev1.Pod) bool {
	_, _, a := matchRule(policy, p)
	return a == batchv1.PodFailurePolicyActionFailIndex
}

func matchRule(policy *batchv1.PodFailurePolicy, p *corev1.Pod) (*string, bool, batchv1.PodFailurePolicyAction) {
	if policy == nil {
		return nil, true, ""
	}
	for i, rule := range policy.Rules {
		var msg string
		switch {
		case rule.OnExitCodes != nil:
			cs := matchExitCodes(p, rule.OnExitCodes)
			if cs == nil {
				continue
			}
			msg = fmt.Sprintf("Container %s for pod %s/%s failed with exit code %v matching %v rule at index %d",
				cs.Name, p.Namespace, p.Name, cs.State.Terminated.ExitCode, rule.Action, i)
		case rule.OnPodConditions != nil:
			c := matchPodConditions(p, rule.OnPodConditions)
			if c == nil {
				continue
			}
			msg = fmt.Sprintf("Pod %s/%s has condition %v matching %v rule at index %d", p.Namespace, p.Name, c.Type, rule.Action, i)
		default:
			continue
		}
		switch rule.Action {
		case batchv1.PodFailurePolicyActionIgnore:
			return nil, false, rule.Action
		case batchv1.PodFailurePolicyActionFailJob:
			return &msg, true, rule.Action
		default:
			return nil, true, rule.Action
		}
	}
	return nil, true, ""
}

func matchExitCodes(p *corev1.Pod, req *batchv1.PodFailurePolicyOnExitCodesRequirement) *corev1.ContainerStatus {
	for _, list := range [][]corev1.ContainerStatus{p.Status.ContainerStatuses, p.Status.InitContainerStatuses} {
		for i := range list {
			cs := &list[i]
			t := cs.State.Terminated
			if t == nil || t.ExitCode == 0 || (req.ContainerName != nil && *req.ContainerName != cs.Name) {
				continue
			}
			in := slices.Contains(req.Values, t.ExitCode)
			if (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && in) || (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpNotIn && !in) {
				return cs
			}
		}
	}
	return nil
}

func matchPodConditions(p *corev1.Pod, patterns []batchv1.PodFailurePolicyOnPodConditionsPattern) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		c := &p.Status.Conditions[i]
		for _, pat := range patterns {
			if c.Type == pat.Type && c.Status == pat.Status {
				return c
			}
		}
	}
	return nil
}
