package namespace

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// conditionTypes are the conditions this controller owns, in upstream's order.
var conditionTypes = []corev1.NamespaceConditionType{
	corev1.NamespaceDeletionDiscoveryFailure,
	corev1.NamespaceDeletionGVParsingFailure,
	corev1.NamespaceDeletionContentFailure,
	corev1.NamespaceContentRemaining,
	corev1.NamespaceFinalizersRemaining,
}

// okReasons and okMessages are what each condition says when all is well.
var (
	okReasons = map[corev1.NamespaceConditionType]string{
		corev1.NamespaceDeletionDiscoveryFailure: "ResourcesDiscovered",
		corev1.NamespaceDeletionGVParsingFailure: "ParsedGroupVersions",
		corev1.NamespaceDeletionContentFailure:   "ContentDeleted",
		corev1.NamespaceContentRemaining:         "ContentRemoved",
		corev1.NamespaceFinalizersRemaining:      "ContentHasNoFinalizers",
	}
	okMessages = map[corev1.NamespaceConditionType]string{
		corev1.NamespaceDeletionDiscoveryFailure: "All resources successfully discovered",
		corev1.NamespaceDeletionGVParsingFailure: "All legacy kube types successfully parsed",
		corev1.NamespaceDeletionContentFailure:   "All content successfully deleted, may be waiting on finalization",
		corev1.NamespaceContentRemaining:         "All content successfully removed",
		corev1.NamespaceFinalizersRemaining:      "All content-preserving finalizers finished",
	}
)

// Outcome is what one pass over a namespace's content found.
type Outcome struct {
	// DiscoveryErr is set when discovery failed, for some groups (a
	// *discovery.ErrGroupDiscoveryFailed) or altogether.
	DiscoveryErr error
	// DeleteErrs are the errors deleting or listing each resource type.
	DeleteErrs []error
	// Remaining counts objects left per resource; Finalizers counts the
	// remaining objects holding each finalizer.
	Remaining  map[schema.GroupVersionResource]int
	Finalizers map[string]int
	// Estimate is how long, in seconds, remaining pods may take to go.
	Estimate int64
}

// Done says whether the namespace can be finalized: everything was found,
// deleted and is gone.
func (o Outcome) Done() bool {
	if o.DiscoveryErr != nil || len(o.DeleteErrs) > 0 {
		return false
	}
	for _, n := range o.Remaining {
		if n > 0 {
			return false
		}
	}
	return true
}

// Conditions are the condition values upstream would report for o: a True
// condition with the failure, or the False "ok" variant.
func Conditions(o Outcome) []corev1.NamespaceCondition {
	failures := map[corev1.NamespaceConditionType]corev1.NamespaceCondition{}
	if o.DiscoveryErr != nil {
		msg := o.DiscoveryErr.Error()
		var groups *discovery.ErrGroupDiscoveryFailed
		if errors.As(o.DiscoveryErr, &groups) {
			msg = fmt.Sprintf("Discovery failed for some groups, %d failing: %v", len(groups.Groups), o.DiscoveryErr)
		}
		failures[corev1.NamespaceDeletionDiscoveryFailure] = corev1.NamespaceCondition{Reason: "DiscoveryFailed", Message: msg}
	}
	if len(o.DeleteErrs) > 0 {
		msgs := make([]string, 0, len(o.DeleteErrs))
		for _, e := range o.DeleteErrs {
			msgs = append(msgs, e.Error())
		}
		sort.Strings(msgs)
		failures[corev1.NamespaceDeletionContentFailure] = corev1.NamespaceCondition{
			Reason:  "ContentDeletionFailed",
			Message: fmt.Sprintf("Failed to delete all resource types, %d remaining: %v", len(msgs), strings.Join(msgs, ", ")),
		}
	}
	var remaining []string
	for gvr, n := range o.Remaining {
		if n > 0 {
			remaining = append(remaining, fmt.Sprintf("%s.%s has %d resource instances", gvr.Resource, gvr.Group, n))
		}
	}
	if len(remaining) > 0 {
		sort.Strings(remaining)
		failures[corev1.NamespaceContentRemaining] = corev1.NamespaceCondition{
			Reason:  "SomeResourcesRemain",
			Message: "Some resources are remaining: " + strings.Join(remaining, ", "),
		}
	}
	var finalizers []string
	for f, n := range o.Finalizers {
		if n > 0 {
			finalizers = append(finalizers, fmt.Sprintf("%s in %d resource instances", f, n))
		}
	}
	if len(finalizers) > 0 {
		sort.Strings(finalizers)
		failures[corev1.NamespaceFinalizersRemaining] = corev1.NamespaceCondition{
			Reason:  "SomeFinalizersRemain",
			Message: "Some content in the namespace has finalizers remaining: " + strings.Join(finalizers, ", "),
		}
	}
	out := make([]corev1.NamespaceCondition, 0, len(conditionTypes))
	for _, t := range conditionTypes {
		c, failed := failures[t]
		c.Type = t
		if failed {
			c.Status = corev1.ConditionTrue
		} else {
			c.Status, c.Reason, c.Message = corev1.ConditionFalse, okReasons[t], okMessages[t]
		}
		out = append(out, c)
	}
	return out
}

// MergeConditions writes want into status, keeping the transition time of
// conditions whose status did not change, and says whether anything changed.
func MergeConditions(status *corev1.NamespaceStatus, want []corev1.NamespaceCondition, now metav1.Time) bool {
	changed := false
	for _, w := range want {
		found := false
		for i := range status.Conditions {
			c := &status.Conditions[i]
			if c.Type != w.Type {
				continue
			}
			found = true
			if c.Status == w.Status && c.Reason == w.Reason && c.Message == w.Message {
				break
			}
			if c.Status != w.Status {
				c.LastTransitionTime = now
			}
			c.Status, c.Reason, c.Message = w.Status, w.Reason, w.Message
			changed = true
			break
		}
		if !found {
			w.LastTransitionTime = now
			status.Conditions = append(status.Conditions, w)
			changed = true
		}
	}
	return changed
}
