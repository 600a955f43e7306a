package scheduler

import (
	"container/heap"
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
)

// Backoff between attempts at a pod that failed, doubling per attempt, and how
// long an unschedulable pod waits for a cluster change before it is tried
// anyway: upstream's defaults.
const (
	initialBackoff      = 1 * time.Second
	maxBackoff          = 10 * time.Second
	maxUnschedulableAge = 5 * time.Minute
)

// queuedPod is one pending pod and its scheduling history.
type queuedPod struct {
	pod      *corev1.Pod
	key      string
	added    time.Time // first time queued: FIFO order within a priority
	attempts int
	tried    time.Time // when the last attempt began: backoff counts from it
	parked   time.Time // when it was last found unschedulable
	index    int       // position in the active heap, -1 when not in it
}

// Queue holds the pods waiting to be scheduled: an active heap ordered by
// spec.priority (then by age) from which the scheduler pops, pods backing off
// after a failed attempt, and unschedulable pods parked until a node or pod
// changes (MoveAllToActive) rather than retried in a busy loop.
type Queue struct {
	mu     sync.Mutex
	cond   *sync.Cond
	active activeHeap
	// pods indexes every queued pod (active, backing off, or parked) by key.
	pods          map[string]*queuedPod
	unschedulable map[string]*queuedPod
	backoff       map[string]*time.Timer
	// cycle counts pops; moveCycle is the cycle of the last cluster change, so
	// a pod that failed while a change happened is retried rather than parked.
	cycle, moveCycle int64
	inFlight         map[string]inFlightPod
	// updated holds pods changed while in flight: their attempt saw old data,
	// so they are retried rather than parked.
	updated map[string]*corev1.Pod
	closed  bool
	now     func() time.Time
}

// NewQueue returns an empty queue.
func NewQueue() *Queue {
	q := &Queue{
		pods:          map[string]*queuedPod{},
		unschedulable: map[string]*queuedPod{},
		backoff:       map[string]*time.Timer{},
		inFlight:      map[string]inFlightPod{},
		updated:       map[string]*corev1.Pod{},
		now:           time.Now,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// inFlightPod is a popped pod whose attempt has not reported back.
type inFlightPod struct {
	pod      *corev1.Pod
	attempts int
	tried    time.Time
}

func podKey(pod *corev1.Pod) string { return pod.Namespace + "/" + pod.Name }

// worthRetry says whether an update can change the outcome of scheduling:
// its spec or labels changed, not merely its status (such as the
// PodScheduled condition the scheduler itself writes).
func worthRetry(old, pod *corev1.Pod) bool {
	return !equality.Semantic.DeepEqual(old.Spec, pod.Spec) || !equality.Semantic.DeepEqual(old.Labels, pod.Labels)
}

// Add queues a pending pod, or refreshes the copy of one already queued. A
// parked pod whose spec changed (new tolerations, say) is tried again at once.
func (q *Queue) Add(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	if qp, ok := q.pods[key]; ok {
		old := qp.pod
		qp.pod = pod
		if qp.index >= 0 {
			heap.Fix(&q.active, qp.index)
		} else if _, parked := q.unschedulable[key]; parked && worthRetry(old, pod) {
			delete(q.unschedulable, key)
			q.pushLocked(qp)
		}
		return
	}
	if f, busy := q.inFlight[key]; busy {
		if worthRetry(f.pod, pod) {
			q.updated[key] = pod
		}
		return
	}
	qp := &queuedPod{pod: pod, key: key, added: q.now(), index: -1}
	q.pods[key] = qp
	q.pushLocked(qp)
}

// Delete drops a pod that is gone, bound, or no longer ours.
func (q *Queue) Delete(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	delete(q.updated, key)
	qp, ok := q.pods[key]
	if !ok {
		return
	}
	delete(q.pods, key)
	delete(q.unschedulable, key)
	if t, ok := q.backoff[key]; ok {
		t.Stop()
		delete(q.backoff, key)
	}
	if qp.index >= 0 {
		heap.Remove(&q.active, qp.index)
	}
}

func (q *Queue) pushLocked(qp *queuedPod) {
	heap.Push(&q.active, qp)
	q.cond.Signal()
}

// Pop blocks until a pod is ready to be tried or ctx ends (then ok is false).
// The pod stays known to the queue as in flight until Done, Requeue or
// Unschedulable reports the attempt's outcome.
func (q *Queue) Pop(ctx context.Context) (pod *corev1.Pod, cycle int64, ok bool) {
	stop := context.AfterFunc(ctx, func() {
		// Taking the lock orders the wake-up after Pop started waiting.
		q.mu.Lock()
		q.mu.Unlock() //nolint:staticcheck // an empty critical section on purpose
		q.cond.Broadcast()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.active.Len() == 0 && ctx.Err() == nil {
		q.cond.Wait()
	}
	if ctx.Err() != nil {
		return nil, 0, false
	}
	qp := heap.Pop(&q.active).(*queuedPod)
	delete(q.pods, qp.key)
	q.cycle++
	qp.attempts++
	q.inFlight[qp.key] = inFlightPod{pod: qp.pod, attempts: qp.attempts, tried: q.now()}
	return qp.pod, q.cycle, true
}

// Done ends an attempt that placed the pod.
// It is also how an attempt whose pod vanished meanwhile is dropped.
func (q *Queue) Done(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, podKey(pod))
	delete(q.updated, podKey(pod))
}

// Requeue ends a failed attempt (an API error, a lost binding): the pod is
// tried again after a backoff that doubles with each attempt.
func (q *Queue) Requeue(pod *corev1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	attempts, tried := max(q.inFlight[key].attempts, 1), q.inFlight[key].tried
	delete(q.inFlight, key)
	if p, ok := q.updated[key]; ok {
		pod = p
		delete(q.updated, key)
	}
	if _, ok := q.pods[key]; ok {
		return
	}
	qp := &queuedPod{pod: pod, key: key, added: q.now(), attempts: attempts, tried: tried, index: -1}
	q.pods[key] = qp
	q.backoffLocked(qp)
}

// Unschedulable ends an attempt that found no node. The pod is parked until
// MoveAllToActive, unless a cluster change happened since the attempt began
// (cycle), in which case it is retried after its backoff.
func (q *Queue) Unschedulable(pod *corev1.Pod, cycle int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := podKey(pod)
	attempts, tried := max(q.inFlight[key].attempts, 1), q.inFlight[key].tried
	delete(q.inFlight, key)
	p, changed := q.updated[key]
	if changed {
		pod = p
		delete(q.updated, key)
	}
	if _, ok := q.pods[key]; ok {
		return
	}
	qp := &queuedPod{pod: pod, key: key, added: q.now(), attempts: attempts, tried: tried, index: -1, parked: q.now()}
	q.pods[key] = qp
	if changed || q.moveCycle >= cycle {
		q.backoffLocked(qp)
		return
	}
	q.unschedulable[key] = qp
}

// backoffDuration is 1s, 2s, 4s, ... up to 10s for the attempts made so far.
func backoffDuration(attempts int) time.Duration {
	d := initialBackoff
	for i := 1; i < attempts && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// backoffLocked makes qp active once its backoff since its last attempt has
// passed: at once if it already has (a pod parked for a while and woken by a
// cluster change), so pods woken together enter the heap together and are
// taken by priority.
func (q *Queue) backoffLocked(qp *queuedPod) {
	if _, ok := q.backoff[qp.key]; ok {
		return
	}
	wait := qp.tried.Add(backoffDuration(qp.attempts)).Sub(q.now())
	if wait <= 0 {
		q.pushLocked(qp)
		return
	}
	q.backoff[qp.key] = time.AfterFunc(wait, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		delete(q.backoff, qp.key)
		if cur, ok := q.pods[qp.key]; ok && cur == qp && qp.index < 0 {
			q.pushLocked(qp)
		}
	})
}

// MoveAllToActive retries every parked pod (after its backoff): a node was
// added or changed, or a pod left a node, so some may fit now.
func (q *Queue) MoveAllToActive() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveCycle = q.cycle
	for key, qp := range q.unschedulable {
		delete(q.unschedulable, key)
		q.backoffLocked(qp)
	}
}

// FlushStale retries pods parked longer than maxUnschedulableAge, as upstream
// does, in case a change they needed was missed.
func (q *Queue) FlushStale() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.now()
	for key, qp := range q.unschedulable {
		if now.Sub(qp.parked) >= maxUnschedulableAge {
			delete(q.unschedulable, key)
			q.pushLocked(qp)
		}
	}
}

// Len counts the queued pods (active, backing off and parked), not in flight.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pods)
}

// activeHeap orders pods by priority, highest first, then oldest first.
type activeHeap []*queuedPod

func (h activeHeap) Len() int { return len(h) }
func (h activeHeap) Less(i, j int) bool {
	pi, pj := corev1helpers.PodPriority(h[i].pod), corev1helpers.PodPriority(h[j].pod)
	if pi != pj {
		return pi > pj
	}
	return h[i].added.Before(h[j].added)
}
func (h activeHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *activeHeap) Push(x any) {
	qp := x.(*queuedPod)
	qp.index = len(*h)
	*h = append(*h, qp)
}
func (h *activeHeap) Pop() any {
	old := *h
	n := len(old)
	qp := old[n-1]
	old[n-1] = nil
	qp.index = -1
	*h = old[:n-1]
	return qp
}
