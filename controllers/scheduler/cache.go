package scheduler

import (
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// cachedPod is where the cache counts a pod, and whether only because the
// scheduler assumed it there (binding in flight) rather than having seen it bound.
type cachedPod struct {
	pod     *corev1.Pod
	node    string
	assumed bool
}

// Cache is the scheduler's view of the cluster: every node and the pods that
// take room on it. Pods the scheduler has just placed are assumed onto their
// node at once, so the next pod in a burst sees that room as taken before the
// binding reaches the API server; the informer's copy of the bound pod later
// replaces the assumed one, and a failed binding forgets it.
type Cache struct {
	mu    sync.Mutex
	nodes map[string]*NodeInfo
	pods  map[types.UID]cachedPod
	// order lists node names in the order they were added, and nextStart is
	// where the next search begins: as upstream, successive pods start where
	// the last search stopped, so no node is always looked at last.
	order     []string
	nextStart int
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{nodes: map[string]*NodeInfo{}, pods: map[types.UID]cachedPod{}}
}

// nodeInfoLocked returns the entry for a node, creating it for pods seen
// before their node.
func (c *Cache) nodeInfoLocked(name string) *NodeInfo {
	ni, ok := c.nodes[name]
	if !ok {
		ni = NewNodeInfo(nil)
		c.nodes[name] = ni
	}
	return ni
}

// SetNode adds or updates a node.
func (c *Cache) SetNode(node *corev1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni := c.nodeInfoLocked(node.Name)
	if ni.Node == nil {
		c.order = append(c.order, node.Name)
	}
	ni.Node = node
}

// RemoveNode forgets a node; its pods stay counted until they go, in case it
// comes back.
func (c *Cache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni, ok := c.nodes[name]
	if !ok {
		return
	}
	if i := slices.Index(c.order, name); i >= 0 {
		c.order = slices.Delete(c.order, i, i+1)
	}
	if len(ni.Pods) == 0 {
		delete(c.nodes, name)
		return
	}
	ni.Node = nil
}

// counts says whether a pod takes room on a node: it is bound and has not
// finished (upstream's scheduler does not even watch terminal pods).
func counts(pod *corev1.Pod) bool {
	return pod.Spec.NodeName != "" && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed
}

// SetPod records the informer's copy of a pod: bound and running pods are
// counted on their node (replacing an assumed copy), others are dropped.
func (c *Cache) SetPod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removePodLocked(pod.UID)
	if !counts(pod) {
		return
	}
	c.nodeInfoLocked(pod.Spec.NodeName).AddPod(pod)
	c.pods[pod.UID] = cachedPod{pod: pod, node: pod.Spec.NodeName}
}

// RemovePod forgets a deleted pod.
func (c *Cache) RemovePod(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removePodLocked(pod.UID)
}

func (c *Cache) removePodLocked(uid types.UID) {
	cp, ok := c.pods[uid]
	if !ok {
		return
	}
	delete(c.pods, uid)
	ni, ok := c.nodes[cp.node]
	if !ok {
		return
	}
	ni.RemovePod(cp.pod)
	if ni.Node == nil && len(ni.Pods) == 0 {
		delete(c.nodes, cp.node)
	}
}

// Forget drops a pod the scheduler assumed but could not bind. A pod the
// informer has meanwhile seen bound stays.
func (c *Cache) Forget(pod *corev1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.pods[pod.UID]; ok && cp.assumed {
		c.removePodLocked(pod.UID)
	}
}

// ScheduleAndAssume picks a node for pod, as FindNode decides over the
// current nodes (with vols, the pod's claims, if it has any), and assumes the
// pod there before anyone else looks. It returns the node's name, or "" with
// the number of nodes and each reason's count when none fits.
func (c *Cache) ScheduleAndAssume(pod *corev1.Pod, vols *PodVolumes, tieBreak func(n int) int) (string, int, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	nodes := make([]*NodeInfo, 0, len(c.order))
	for i := range c.order {
		nodes = append(nodes, c.nodes[c.order[(c.nextStart+i)%len(c.order)]])
	}
	if vols != nil && vols.PreFilter != "" {
		return "", len(nodes), map[string]int{}
	}
	name, reasons, processed := findNode(pod, vols, nodes, NumFeasibleNodesToFind(len(nodes)), tieBreak)
	if len(nodes) > 0 {
		c.nextStart = (c.nextStart + processed) % len(nodes)
	}
	if name == "" {
		return "", len(nodes), reasons
	}
	assumed := pod.DeepCopy()
	assumed.Spec.NodeName = name
	c.removePodLocked(pod.UID)
	c.nodes[name].AddPod(assumed)
	c.pods[pod.UID] = cachedPod{pod: assumed, node: name, assumed: true}
	return name, len(nodes), nil
}

// NodeFor returns the node object of name, or nil.
func (c *Cache) NodeFor(name string) *corev1.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ni, ok := c.nodes[name]; ok {
		return ni.Node
	}
	return nil
}

// IsAssumed says whether pod is placed by this scheduler but not yet seen
// bound: such a pod must not be queued again.
func (c *Cache) IsAssumed(pod *corev1.Pod) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.pods[pod.UID]
	return ok && cp.assumed
}
