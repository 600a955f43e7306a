package garbagecollector

import (
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// objectRef identifies one object as the collector addresses it.
type objectRef struct {
	GVK       schema.GroupVersionKind
	Namespace string
	Name      string
	UID       types.UID
}

// node is what the graph knows of an observed object.
type node struct {
	ref        objectRef
	owners     []metav1.OwnerReference
	deleting   bool
	finalizers []string
}

// graph is the owner -> dependents index built from the informers' events.
type graph struct {
	mu         sync.RWMutex
	nodes      map[types.UID]*node
	dependents map[types.UID]map[types.UID]bool
}

func newGraph() *graph {
	return &graph{nodes: map[types.UID]*node{}, dependents: map[types.UID]map[types.UID]bool{}}
}

// upsert records obj and returns the node it replaced (nil if new).
func (g *graph) upsert(ref objectRef, m metav1.Object) *node {
	g.mu.Lock()
	defer g.mu.Unlock()
	old := g.nodes[ref.UID]
	if old != nil {
		for _, o := range old.owners {
			delete(g.dependents[o.UID], ref.UID)
		}
	}
	n := &node{
		ref:        ref,
		owners:     append([]metav1.OwnerReference(nil), m.GetOwnerReferences()...),
		deleting:   m.GetDeletionTimestamp() != nil,
		finalizers: append([]string(nil), m.GetFinalizers()...),
	}
	g.nodes[ref.UID] = n
	for _, o := range n.owners {
		if g.dependents[o.UID] == nil {
			g.dependents[o.UID] = map[types.UID]bool{}
		}
		g.dependents[o.UID][ref.UID] = true
	}
	return old
}

// remove forgets an object and returns its last node.
func (g *graph) remove(uid types.UID) *node {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.nodes[uid]
	if n == nil {
		return nil
	}
	delete(g.nodes, uid)
	for _, o := range n.owners {
		delete(g.dependents[o.UID], uid)
		if len(g.dependents[o.UID]) == 0 {
			delete(g.dependents, o.UID)
		}
	}
	return n
}

// has says whether the graph has observed uid.
func (g *graph) has(uid types.UID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.nodes[uid] != nil
}

// dependentsOf returns copies of the nodes that reference owner.
func (g *graph) dependentsOf(owner types.UID) []node {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var out []node
	for uid := range g.dependents[owner] {
		if n := g.nodes[uid]; n != nil {
			out = append(out, *n)
		}
	}
	return out
}

func (g *graph) hasDependents(owner types.UID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.dependents[owner]) > 0
}
