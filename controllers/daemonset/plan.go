package daemonset

import (
	"sort"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// decision is what one sync of a DaemonSet does and reports.
type decision struct {
	createOn []string      // nodes that get a new pod
	delete   []*corev1.Pod // pods to delete
	status   appsv1.DaemonSetStatus
}

// plan decides a sync from the nodes and the pods the DaemonSet owns, as
// upstream's manage, rollingUpdate and updateDaemonSetStatus do: a pod for
// every eligible node without one; failed and completed pods, duplicates
// (all but the oldest) and pods on nodes they may no longer run on are
// deleted; then for RollingUpdate old pods are deleted (unavailable ones
// freely, available ones while fewer than maxUnavailable are unavailable)
// so that the creation step replaces them with the current template.
func plan(ds *appsv1.DaemonSet, nodes []*corev1.Node, pods []*corev1.Pod, hash string, now time.Time) decision {
	var d decision
	elig := newEligibility(ds)
	gen := templateGeneration(ds)
	byNode := map[string][]*corev1.Pod{}
	for _, p := range pods {
		// A finished pod already being deleted no longer holds its node.
		if p.DeletionTimestamp != nil && (p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded) {
			continue
		}
		byNode[targetNode(p)] = append(byNode[targetNode(p)], p)
	}
	known := map[string]bool{}
	deleted := map[*corev1.Pod]bool{}
	del := func(p *corev1.Pod) {
		if !deleted[p] {
			deleted[p] = true
			d.delete = append(d.delete, p)
		}
	}
	sorted := append([]*corev1.Node(nil), nodes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, node := range sorted {
		known[node.Name] = true
		run, keep := elig.shouldRun(node)
		onNode := byNode[node.Name]
		switch {
		case run && len(onNode) == 0:
			d.createOn = append(d.createOn, node.Name)
		case keep:
			var running []*corev1.Pod
			for _, p := range onNode {
				switch {
				case p.DeletionTimestamp != nil:
				case p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded:
					del(p)
				default:
					running = append(running, p)
				}
			}
			switch {
			case len(running) == 0 && run && allowsSurge(ds) && len(onNode) > 0:
				// Surging keeps a live pod on the node while the old one goes.
				d.createOn = append(d.createOn, node.Name)
			case len(running) > 1 && allowsSurge(ds):
				for _, p := range surgeExcess(ds, running, hash, gen, now) {
					del(p)
				}
			case len(running) > 1:
				oldestFirst(running)
				for _, p := range running[1:] {
					del(p)
				}
			}
		default:
			for _, p := range onNode {
				if p.DeletionTimestamp == nil {
					del(p)
				}
			}
		}
	}
	// Pods for nodes that no longer exist go too.
	for node, onNode := range byNode {
		if known[node] {
			continue
		}
		for _, p := range onNode {
			if p.DeletionTimestamp == nil {
				del(p)
			}
		}
	}

	// Like upstream, the rolling update waits until this step's creations
	// and deletions are observed, so it never counts on a stale picture.
	if ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType && len(d.createOn) == 0 && len(d.delete) == 0 {
		desired := 0
		for _, node := range sorted {
			if run, _ := elig.shouldRun(node); run {
				desired++
			}
		}
		if allowsSurge(ds) {
			creates, deletes := rollingSurge(ds, sorted, byNode, elig, hash, gen, desired, now)
			d.createOn = append(d.createOn, creates...)
			for _, p := range deletes {
				del(p)
			}
		} else {
			for _, p := range rollingDeletes(ds, sorted, byNode, deleted, hash, gen, desired, now) {
				del(p)
			}
		}
	}
	d.status = status(ds, sorted, byNode, elig, hash, gen, now)
	return d
}

// maxUnavailable is the rolling update's budget of unavailable pods, at least 1.
func maxUnavailable(ds *appsv1.DaemonSet, desired int) int {
	v := intstr.FromInt32(1)
	if ru := ds.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.MaxUnavailable != nil {
		v = *ru.MaxUnavailable
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(&v, desired, true)
	if err != nil || n < 1 {
		// Zero is only valid with maxSurge, which takes the other path.
		return 1
	}
	return n
}

// rollingDeletes picks the old pods to delete in this step.
func rollingDeletes(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, deleted map[*corev1.Pod]bool,
	hash string, gen *int64, desired int, now time.Time) []*corev1.Pod {
	budget := maxUnavailable(ds, desired)
	unavailable := 0
	var free, candidates []*corev1.Pod
	for _, node := range nodes {
		var live []*corev1.Pod
		present := false
		for _, p := range byNode[node.Name] {
			finished := p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded
			if finished && p.DeletionTimestamp != nil {
				continue
			}
			present = true
			if p.DeletionTimestamp == nil && !deleted[p] && !finished {
				live = append(live, p)
			}
		}
		if !present {
			continue
		}
		if len(live) == 0 {
			// Only a pod on its way out: the node is down one pod.
			unavailable++
			continue
		}
		var newPod, oldPod *corev1.Pod
		dup := false
		for _, p := range live {
			if isUpdated(p, hash, gen) {
				dup = dup || newPod != nil
				newPod = p
			} else {
				dup = dup || oldPod != nil
				oldPod = p
			}
		}
		switch {
		case dup || (newPod != nil && oldPod != nil):
			unavailable++
		case newPod != nil:
			if !available(newPod, ds.Spec.MinReadySeconds, now) {
				unavailable++
			}
		case !available(oldPod, ds.Spec.MinReadySeconds, now):
			free = append(free, oldPod)
		case unavailable < budget:
			candidates = append(candidates, oldPod)
		}
	}
	left := max(budget-unavailable, 0)
	left = min(left, len(candidates))
	return append(free, candidates[:left]...)
}

// status counts nodes and pods as upstream's updateDaemonSetStatus does.
func status(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, elig eligibility, hash string, gen *int64, now time.Time) appsv1.DaemonSetStatus {
	st := appsv1.DaemonSetStatus{
		ObservedGeneration: ds.Generation,
		CollisionCount:     ds.Status.CollisionCount,
		Conditions:         ds.Status.Conditions,
	}
	for _, node := range nodes {
		run, _ := elig.shouldRun(node)
		var live []*corev1.Pod
		for _, p := range byNode[node.Name] {
			if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodFailed && p.Status.Phase != corev1.PodSucceeded {
				live = append(live, p)
			}
		}
		switch {
		case run:
			st.DesiredNumberScheduled++
			if len(live) == 0 {
				continue
			}
			st.CurrentNumberScheduled++
			oldestFirst(live)
			p := live[0]
			if podReady(p) != nil {
				st.NumberReady++
				if available(p, ds.Spec.MinReadySeconds, now) {
					st.NumberAvailable++
				}
			}
			if isUpdated(p, hash, gen) {
				st.UpdatedNumberScheduled++
			}
		case len(live) > 0:
			st.NumberMisscheduled++
		}
	}
	st.NumberUnavailable = st.DesiredNumberScheduled - st.NumberAvailable
	return st
}

// maxSurge is how many nodes may run an extra new pod during a rolling
// update (rounded up); 0 turns surging off.
func maxSurge(ds *appsv1.DaemonSet, desired int) int {
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type != appsv1.RollingUpdateDaemonSetStrategyType || ru == nil || ru.MaxSurge == nil {
		return 0
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(ru.MaxSurge, desired, true)
	if err != nil {
		return 0
	}
	return n
}

func allowsSurge(ds *appsv1.DaemonSet) bool { return maxSurge(ds, 1) > 0 }

// surgeExcess trims a node's running pods while surging: it keeps the oldest
// pod at the current revision and the oldest older one, and lets the older
// go once it is not ready or the new one is available.
func surgeExcess(ds *appsv1.DaemonSet, running []*corev1.Pod, hash string, gen *int64, now time.Time) []*corev1.Pod {
	oldestFirst(running)
	var newPod, oldPod *corev1.Pod
	var out []*corev1.Pod
	for _, p := range running {
		switch {
		case isUpdated(p, hash, gen) && newPod == nil:
			newPod = p
		case !isUpdated(p, hash, gen) && oldPod == nil:
			oldPod = p
		default:
			out = append(out, p)
		}
	}
	if newPod != nil && oldPod != nil && (podReady(oldPod) == nil || available(newPod, ds.Spec.MinReadySeconds, now)) {
		out = append(out, oldPod)
	}
	return out
}

// rollingSurge is the rolling update with maxSurge, as upstream's: a new pod
// starts beside an old one that is unavailable at once, beside available
// ones on up to maxSurge nodes at a time; an old pod goes once the new pod
// next to it is available.
func rollingSurge(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, elig eligibility,
	hash string, gen *int64, desired int, now time.Time) ([]string, []*corev1.Pod) {
	budget := maxSurge(ds, desired)
	surging := 0
	var allowed, candidates []string
	var deletes []*corev1.Pod
	for _, node := range nodes {
		var newPod, oldPod *corev1.Pod
		dup, present := false, false
		for _, p := range byNode[node.Name] {
			if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodFailed || p.Status.Phase == corev1.PodSucceeded {
				continue
			}
			present = true
			if isUpdated(p, hash, gen) {
				dup = dup || newPod != nil
				newPod = p
			} else {
				dup = dup || oldPod != nil
				oldPod = p
			}
		}
		switch {
		case !present:
		case dup:
			surging++ // the manage step trims it first
		case oldPod == nil:
		case newPod == nil:
			run, _ := elig.shouldRun(node)
			switch {
			case !run:
				deletes = append(deletes, oldPod)
			case !available(oldPod, ds.Spec.MinReadySeconds, now):
				allowed = append(allowed, node.Name)
			case surging < budget:
				candidates = append(candidates, node.Name)
			}
		case !available(newPod, ds.Spec.MinReadySeconds, now):
			surging++
		default:
			deletes = append(deletes, oldPod)
		}
	}
	left := min(max(budget-surging, 0), len(candidates))
	return append(allowed, candidates[:left]...), deletes
}
