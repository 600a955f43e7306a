package statefulset

import (
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// stepKind is one write a sync makes.
type stepKind int

const (
	createPod stepKind = iota
	deletePod
	fixIdentity
)

type step struct {
	kind stepKind
	pod  *corev1.Pod
	// condemned marks a pod deleted because it is beyond the replicas (its
	// claims follow the whenScaled policy).
	condemned bool
}

// revisions are the two templates a sync works with: current (what the
// pods below the partition keep) and update (what the rest move to).
type revisions struct {
	current, update         *appsv1.StatefulSet
	currentName, updateName string
}

// plan decides the steps of one sync from the pods the set owns, as
// upstream's updateStatefulSet does, and the status they lead to.
// OrderedReady stops at the first step, and before any step while a pod is
// not yet Running and Ready; Parallel takes every creation and deletion at
// once. A rolling update deletes the highest-ordinal pod not at the update
// revision (at or above the partition), one at a time, each only once the
// pods above it are healthy again.
func plan(set *appsv1.StatefulSet, pods []*corev1.Pod, revs revisions, ref metav1.OwnerReference, now time.Time) (appsv1.StatefulSetStatus, []step) {
	status := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    revs.currentName,
		UpdateRevision:     revs.updateName,
		CollisionCount:     set.Status.CollisionCount,
		Conditions:         set.Status.Conditions,
	}
	start, n := startOrdinal(set), replicasOf(set)
	replicas := make([]*corev1.Pod, n)
	var condemned []*corev1.Pod
	count := func(p *corev1.Pod, delta int32) {
		status.Replicas += delta
		if runningAndReady(p) {
			status.ReadyReplicas += delta
			if availableAt(p, set.Spec.MinReadySeconds, now) {
				status.AvailableReplicas += delta
			}
		}
		if created(p) && terminating(p) {
			return
		}
		switch revisionOf(p) {
		case revs.currentName:
			status.CurrentReplicas += delta
		}
		if revisionOf(p) == revs.updateName {
			status.UpdatedReplicas += delta
		}
	}
	for _, p := range pods {
		_, ord := ordinalOf(p)
		if ord < 0 {
			continue
		}
		count(p, 1)
		if inRange(set, ord) {
			replicas[ord-start] = p
		} else {
			condemned = append(condemned, p)
		}
	}
	fresh := func(i int) *corev1.Pod {
		ord := start + i
		if belowPartition(revs.current, i) {
			return newPod(revs.current, ref, ord, revs.currentName)
		}
		return newPod(revs.update, ref, ord, revs.updateName)
	}
	for i := range replicas {
		if replicas[i] == nil {
			replicas[i] = fresh(i)
		}
	}
	sort.SliceStable(condemned, func(i, j int) bool {
		_, a := ordinalOf(condemned[i])
		_, b := ordinalOf(condemned[j])
		return a > b
	})
	healthy := func(p *corev1.Pod) bool {
		return created(p) && runningAndReady(p) && availableAt(p, set.Spec.MinReadySeconds, now) && !terminating(p)
	}
	var firstUnhealthy *corev1.Pod
	for _, p := range append(append([]*corev1.Pod(nil), replicas...), condemned...) {
		if !healthy(p) {
			firstUnhealthy = p
			break
		}
	}
	if set.DeletionTimestamp != nil {
		return finish(set, status), nil
	}
	monotonic := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	var steps []step

	for i := range replicas {
		p := replicas[i]
		if created(p) && finished(p) {
			// A failed or completed pod is replaced.
			if !terminating(p) {
				steps = append(steps, step{kind: deletePod, pod: p})
				count(p, -1)
			}
			if monotonic {
				return finish(set, status), steps
			}
			continue
		}
		if !created(p) {
			steps = append(steps, step{kind: createPod, pod: p})
			count(p, 1)
			if monotonic {
				return finish(set, status), steps
			}
			continue
		}
		if terminating(p) {
			if monotonic {
				return finish(set, status), steps
			}
			continue
		}
		// OrderedReady waits for each pod to be Running, Ready and available
		// (minReadySeconds) before the next step.
		if !(runningAndReady(p) && availableAt(p, set.Spec.MinReadySeconds, now)) && monotonic {
			return finish(set, status), steps
		}
		if !identityMatches(set, p) {
			steps = append(steps, step{kind: fixIdentity, pod: p})
		}
	}

	for _, p := range condemned {
		if terminating(p) {
			if monotonic {
				return finish(set, status), steps
			}
			continue
		}
		if monotonic && !healthy(p) && p != firstUnhealthy {
			return finish(set, status), steps
		}
		steps = append(steps, step{kind: deletePod, pod: p, condemned: true})
		count(p, -1)
		if monotonic {
			return finish(set, status), steps
		}
	}

	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return finish(set, status), steps
	}
	updateMin := 0
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		updateMin = int(*ru.Partition)
	}
	for target := len(replicas) - 1; target >= updateMin; target-- {
		p := replicas[target]
		if revisionOf(p) != revs.updateName && !terminating(p) && created(p) {
			steps = append(steps, step{kind: deletePod, pod: p})
			status.CurrentReplicas--
			return finish(set, status), steps
		}
		if !healthy(p) {
			break
		}
	}
	return finish(set, status), steps
}

// belowPartition says ordinal index i keeps the current revision: it is
// below the rolling update's partition.
func belowPartition(current *appsv1.StatefulSet, i int) bool {
	if current.Spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		return false
	}
	ru := current.Spec.UpdateStrategy.RollingUpdate
	if ru == nil || ru.Partition == nil {
		return false
	}
	return i < int(*ru.Partition)
}

// finish completes an update once every replica is updated and ready: the
// update revision becomes current.
func finish(set *appsv1.StatefulSet, st appsv1.StatefulSetStatus) appsv1.StatefulSetStatus {
	n := int32(replicasOf(set))
	if st.UpdatedReplicas == n && st.ReadyReplicas == n && st.Replicas == n {
		st.CurrentReplicas = st.UpdatedReplicas
		st.CurrentRevision = st.UpdateRevision
	}
	return st
}
