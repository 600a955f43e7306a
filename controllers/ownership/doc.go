// Package ownership decides which objects a workload controller owns, by the
// rules upstream's controllers follow: an object with a controller reference
// belongs to that controller and nothing else; an orphan whose labels match a
// live controller's selector is adopted; an owned object whose labels stop
// matching is released. Adopting and releasing are strategic-merge patches of
// metadata.ownerReferences guarded by the object's uid, so a recreated object
// of the same name is never touched by mistake.
package ownership
