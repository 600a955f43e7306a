package registry

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/util/retry"
	pdbhelper "k8s.io/component-helpers/apps/poddisruptionbudget"
)

// maxDisruptedPods caps status.disruptedPods: past it, evictions wait for the
// disruption controller to confirm the earlier ones (upstream's limit).
const maxDisruptedPods = 2000

// evictionRetry is how often an eviction retries after losing a race on the
// pod or the budget, as upstream's (20 steps of 0.5 s).
var evictionRetry = wait.Backoff{Steps: 20, Duration: 500 * time.Millisecond, Factor: 1.0, Jitter: 0.1}

// EvictionREST serves pods/eviction (kubectl drain): it deletes the pod with
// the eviction's delete options unless that would take the application
// below its PodDisruptionBudget. A budget's status, kept by the disruption
// controller, says how many pods may go; each eviction spends one
// (status.disruptionsAllowed--) and names the pod in status.disruptedPods,
// so that concurrent evictions cannot overspend, before the pod is marked
// DisruptionTarget and deleted. Refusals are 429 TooManyRequests with a
// DisruptionBudget cause, which drain retries.
type EvictionREST struct {
	pods, podStatus       *genericregistry.Store
	budgets, budgetStatus *genericregistry.Store
}

var (
	_ rest.NamedCreater             = &EvictionREST{}
	_ rest.GroupVersionKindProvider = &EvictionREST{}
)

func (r *EvictionREST) New() runtime.Object { return &policyv1.Eviction{} }
func (r *EvictionREST) Destroy()            {}

// GroupVersionKind says the subresource speaks policy/v1 Eviction.
func (r *EvictionREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return policyv1.SchemeGroupVersion.WithKind("Eviction")
}

func (r *EvictionREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	ev, ok := obj.(*policyv1.Eviction)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not an Eviction: %T", obj))
	}
	if ev.Name != name {
		return nil, apierrors.NewBadRequest("name in URL does not match name in Eviction object")
	}
	if ev.DeleteOptions != nil && ev.DeleteOptions.IgnoreStoreReadErrorWithClusterBreakingPotential != nil && *ev.DeleteOptions.IgnoreStoreReadErrorWithClusterBreakingPotential {
		return nil, apierrors.NewInvalid(policyv1.SchemeGroupVersion.WithKind("Eviction").GroupKind(), name, field.ErrorList{
			field.Invalid(field.NewPath("deleteOptions", "ignoreStoreReadErrorWithClusterBreakingPotential"), true, "can not be set for pod eviction, try after removing the option"),
		})
	}
	del, err := evictionDeleteOptions(ev, options)
	if err != nil {
		return nil, err
	}
	if createValidation != nil {
		if err := createValidation(ctx, ev.DeepCopyObject()); err != nil {
			return nil, err
		}
	}

	// A pod that is not running (pending, finished, already deleting) is no
	// disruption: delete it without asking any budget.
	var pod *corev1.Pod
	deleted := false
	retryable := apierrors.IsConflict
	if hasResourceVersion(del) {
		retryable = func(error) bool { return false }
	}
	err = retry.OnError(evictionRetry, retryable, func() error {
		o, err := r.pods.Get(ctx, name, &metav1.GetOptions{})
		if err != nil {
			return err
		}
		pod = o.(*corev1.Pod)
		if !budgetExempt(pod) {
			return nil
		}
		opts := del
		if enforceResourceVersion(pod) && !hasResourceVersion(del) {
			opts = withResourceVersion(del, pod.ResourceVersion)
		}
		if err := r.markAndDelete(ctx, name, opts); err != nil {
			return err
		}
		deleted = true
		return nil
	})
	switch {
	case err != nil:
		return nil, err
	case deleted:
		return &metav1.Status{Status: metav1.StatusSuccess}, nil
	}

	pdbs, err := r.budgetsOf(ctx, pod)
	if err != nil {
		return nil, err
	}
	if len(pdbs) > 1 {
		return &metav1.Status{Status: metav1.StatusFailure, Code: 500,
			Message: "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."}, nil
	}
	// pinned says the pod was let go without spending the budget because it
	// is not Ready: delete only if it has not become Ready since.
	pinned := false
	var pdbName string
	if len(pdbs) == 1 {
		pdb := pdbs[0]
		pdbName = pdb.Name
		if !podIsReady(pod) && unhealthyMayGo(pdb) {
			pinned = true
		} else if err := r.spend(ctx, pod, pdb, dryRun(del)); err != nil {
			if wait.Interrupted(err) {
				return nil, apierrors.NewTimeoutError(fmt.Sprintf("couldn't update PodDisruptionBudget %q due to conflicts", pdbName), 10)
			}
			return nil, err
		}
	}
	opts := del
	if pinned {
		opts = withResourceVersion(del, pod.ResourceVersion)
	}
	if err := r.markAndDelete(ctx, name, opts); err != nil {
		if apierrors.IsConflict(err) && pinned && !hasResourceVersion(del) {
			// The pod changed (maybe became Ready): let the client retry.
			return nil, budgetBusy(pdbName)
		}
		return nil, err
	}
	return &metav1.Status{Status: metav1.StatusSuccess}, nil
}

// unhealthyMayGo says whether a not-Ready pod may be evicted without
// spending the budget: always under AlwaysAllow, and under the default
// IfHealthyBudget while the application is at or above its budget.
func unhealthyMayGo(pdb *policyv1.PodDisruptionBudget) bool {
	if p := pdb.Spec.UnhealthyPodEvictionPolicy; p != nil && *p == policyv1.AlwaysAllow {
		return true
	}
	return pdb.Status.CurrentHealthy >= pdb.Status.DesiredHealthy && pdb.Status.DesiredHealthy > 0
}

// spend takes one disruption from the budget, re-reading it after a
// conflict; it fails with 429 when none is left.
func (r *EvictionREST) spend(ctx context.Context, pod *corev1.Pod, pdb *policyv1.PodDisruptionBudget, dry bool) error {
	refresh := false
	return retry.RetryOnConflict(evictionRetry, func() error {
		if refresh {
			o, err := r.budgets.Get(ctx, pdb.Name, &metav1.GetOptions{})
			if err != nil {
				return err
			}
			pdb = o.(*policyv1.PodDisruptionBudget)
		}
		refresh = true
		next, err := decrement(pdb, pod.Name, time.Now())
		if err != nil || dry {
			return err
		}
		_, _, err = r.budgetStatus.Update(ctx, pdb.Name, rest.DefaultUpdatedObjectInfo(next),
			rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
		return err
	})
}

// decrement is the budget after evicting podName at now, or the refusal.
func decrement(pdb *policyv1.PodDisruptionBudget, podName string, now time.Time) (*policyv1.PodDisruptionBudget, error) {
	if pdb.Status.ObservedGeneration < pdb.Generation {
		return nil, budgetBusy(pdb.Name)
	}
	if pdb.Status.DisruptionsAllowed < 0 {
		return nil, budgetForbidden(pdb.Name, "pdb disruptions allowed is negative",
			fmt.Sprintf("The disruption budget %s does not allow evicting pods currently: pdb disruptions allowed is negative", pdb.Name))
	}
	if len(pdb.Status.DisruptedPods) > maxDisruptedPods {
		return nil, budgetForbidden(pdb.Name, "DisruptedPods map too big - too many evictions not confirmed by PDB controller",
			fmt.Sprintf("The disruption budget %s does not allow evicting pods currently: too many pending evictions not confirmed by PDB controller", pdb.Name))
	}
	if pdb.Status.DisruptionsAllowed == 0 {
		err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
		err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
			Type: policyv1.DisruptionBudgetCause, Message: refusal(pdb)})
		return nil, err
	}
	next := pdb.DeepCopy()
	next.Status.DisruptionsAllowed--
	if next.Status.DisruptionsAllowed == 0 {
		pdbhelper.UpdateDisruptionAllowedCondition(next)
	}
	if next.Status.DisruptedPods == nil {
		next.Status.DisruptedPods = map[string]metav1.Time{}
	}
	// Tell the disruption controller the pod is going, so it does not count
	// it as healthy before the deletion shows.
	next.Status.DisruptedPods[podName] = metav1.NewTime(now)
	return next, nil
}

// refusal explains a budget with no disruption left, in upstream's words.
func refusal(pdb *policyv1.PodDisruptionBudget) string {
	c := apimeta.FindStatusCondition(pdb.Status.Conditions, policyv1.DisruptionAllowedCondition)
	switch {
	case c != nil && c.Status == metav1.ConditionFalse && c.Message != "" && c.Reason == policyv1.SyncFailedReason:
		return fmt.Sprintf("The disruption budget %s does not allow evicting pods currently because it failed sync: %s", pdb.Name, c.Message)
	case pdb.Status.CurrentHealthy <= pdb.Status.DesiredHealthy:
		return fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.Name, pdb.Status.DesiredHealthy, pdb.Status.CurrentHealthy)
	case c != nil && c.Status == metav1.ConditionFalse && c.Message != "":
		return fmt.Sprintf("The disruption budget %s does not allow evicting pods currently (%s): %s", pdb.Name, c.Reason, c.Message)
	}
	return fmt.Sprintf("The disruption budget %s does not allow evicting pods currently", pdb.Name)
}

func budgetBusy(name string) error {
	err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10)
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{
		Type: policyv1.DisruptionBudgetCause, Message: fmt.Sprintf("The disruption budget %s is still being processed by the server.", name)})
	return err
}

func budgetForbidden(name, reason, cause string) error {
	err := apierrors.NewForbidden(policyv1.Resource("poddisruptionbudget"), name, errors.New(reason))
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes, metav1.StatusCause{Type: policyv1.DisruptionBudgetCause, Message: cause})
	return err
}

// budgetsOf lists the budgets in the pod's namespace that select it.
func (r *EvictionREST) budgetsOf(ctx context.Context, pod *corev1.Pod) ([]*policyv1.PodDisruptionBudget, error) {
	o, err := r.budgets.List(ctx, &metainternalversion.ListOptions{})
	if err != nil {
		return nil, err
	}
	var out []*policyv1.PodDisruptionBudget
	for i := range o.(*policyv1.PodDisruptionBudgetList).Items {
		pdb := &o.(*policyv1.PodDisruptionBudgetList).Items[i]
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || pdb.Namespace != pod.Namespace || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		out = append(out, pdb)
	}
	return out, nil
}

// markAndDelete sets the DisruptionTarget condition on the pod, as upstream
// does so that its controller and its containers can tell an eviction from
// a crash, then deletes it.
func (r *EvictionREST) markAndDelete(ctx context.Context, name string, del *metav1.DeleteOptions) error {
	if !dryRun(del) {
		var pre *metav1.Preconditions
		if del.Preconditions != nil {
			pre = del.Preconditions
		}
		mark := rest.DefaultUpdatedObjectInfo(nil, func(_ context.Context, _, old runtime.Object) (runtime.Object, error) {
			pod := old.(*corev1.Pod).DeepCopy()
			if pre != nil {
				if pre.UID != nil && *pre.UID != "" && *pre.UID != pod.UID {
					return nil, apierrors.NewConflict(corev1.Resource("pods"), pod.Name, fmt.Errorf(
						"the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", *pre.UID, pod.UID))
				}
				if pre.ResourceVersion != nil && *pre.ResourceVersion != "" && *pre.ResourceVersion != pod.ResourceVersion {
					return nil, apierrors.NewConflict(corev1.Resource("pods"), pod.Name, fmt.Errorf(
						"the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified", *pre.ResourceVersion, pod.ResourceVersion))
				}
			}
			setDisruptionTarget(pod, time.Now())
			return pod, nil
		})
		updated, _, err := r.podStatus.Update(ctx, name, mark, rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
		if err != nil {
			return notFoundAsPod(err, name)
		}
		if hasResourceVersion(del) {
			// Our own update moved the pod on; keep the precondition about
			// what the caller saw, not about our write.
			rv, err := apimeta.NewAccessor().ResourceVersion(updated)
			if err != nil {
				return err
			}
			del = withResourceVersion(del, rv)
		}
	}
	_, _, err := r.pods.Delete(ctx, name, rest.ValidateAllObjectFunc, del)
	return notFoundAsPod(err, name)
}

func setDisruptionTarget(pod *corev1.Pod, now time.Time) {
	c := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting", LastTransitionTime: metav1.NewTime(now)}
	for i := range pod.Status.Conditions {
		old := &pod.Status.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		*old = c
		return
	}
	pod.Status.Conditions = append(pod.Status.Conditions, c)
}

func notFoundAsPod(err error, name string) error {
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(corev1.Resource("pods"), name)
	}
	return err
}

// evictionDeleteOptions merges the request's dryRun into the eviction's
// delete options; the two must not disagree.
func evictionDeleteOptions(ev *policyv1.Eviction, options *metav1.CreateOptions) (*metav1.DeleteOptions, error) {
	if ev.DeleteOptions == nil {
		return &metav1.DeleteOptions{DryRun: options.DryRun}, nil
	}
	del := ev.DeleteOptions.DeepCopy()
	switch {
	case len(del.DryRun) == 0:
		del.DryRun = options.DryRun
	case len(options.DryRun) > 0 && !reflect.DeepEqual(options.DryRun, del.DryRun):
		return nil, apierrors.NewBadRequest(fmt.Sprintf("Non-matching dry-run options in request and content: %v and %v", options.DryRun, del.DryRun))
	}
	return del, nil
}

// budgetExempt says the pod can go without consulting budgets: it is not
// running (pending or finished) or already being deleted.
func budgetExempt(pod *corev1.Pod) bool {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed, corev1.PodPending:
		return true
	}
	return pod.DeletionTimestamp != nil
}

// enforceResourceVersion says the exempt pod's deletion must be pinned to
// the version that made it exempt: a pending pod may start meanwhile.
func enforceResourceVersion(pod *corev1.Pod) bool {
	switch pod.Status.Phase {
	case corev1.PodSucceeded, corev1.PodFailed:
		return false
	}
	return pod.DeletionTimestamp == nil
}

func hasResourceVersion(del *metav1.DeleteOptions) bool {
	return del.Preconditions != nil && del.Preconditions.ResourceVersion != nil
}

func withResourceVersion(del *metav1.DeleteOptions, rv string) *metav1.DeleteOptions {
	out := del.DeepCopy()
	if out.Preconditions == nil {
		out.Preconditions = &metav1.Preconditions{}
	}
	out.Preconditions.ResourceVersion = &rv
	return out
}

func dryRun(del *metav1.DeleteOptions) bool { return len(del.DryRun) > 0 }

func podIsReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
