package registry

import (
	"fmt"
	"testing"
	"time"

	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestDecrement covers the budget arithmetic an eviction does, and the
// refusals drain prints, in upstream's words.
func TestDecrement(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	pdb := func(allowed, current, desired int32, gen int64) *policyv1.PodDisruptionBudget {
		return &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: gen},
			Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed, CurrentHealthy: current,
				DesiredHealthy: desired, ExpectedPods: current, ObservedGeneration: 1},
		}
	}

	next, err := decrement(pdb(2, 4, 2, 1), "web-1", now)
	if err != nil {
		t.Fatal(err)
	}
	if next.Status.DisruptionsAllowed != 1 || !next.Status.DisruptedPods["web-1"].Time.Equal(now) {
		t.Errorf("after one eviction: %+v", next.Status)
	}
	next, err = decrement(pdb(1, 3, 2, 1), "web-1", now)
	if err != nil {
		t.Fatal(err)
	}
	if c := next.Status.Conditions; len(c) != 1 || c[0].Reason != policyv1.InsufficientPodsReason || c[0].Status != metav1.ConditionFalse {
		t.Errorf("spending the last disruption must flip DisruptionAllowed: %+v", c)
	}

	syncFailed := pdb(0, 0, 0, 1)
	syncFailed.Status.Conditions = []metav1.Condition{{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse,
		Reason: policyv1.SyncFailedReason, Message: "found no controllers for pod \"x\""}}
	tooMany := pdb(1, 3, 2, 1)
	tooMany.Status.DisruptedPods = map[string]metav1.Time{}
	for i := 0; i <= maxDisruptedPods; i++ {
		tooMany.Status.DisruptedPods[fmt.Sprintf("web-%d", i)] = metav1.NewTime(now)
	}
	for _, tc := range []struct {
		name    string
		pdb     *policyv1.PodDisruptionBudget
		code    int32
		message string
	}{
		{"spent", pdb(0, 2, 2, 1), 429, "The disruption budget web needs 2 healthy pods and has 2 currently"},
		{"not yet observed", pdb(1, 3, 2, 2), 429, "The disruption budget web is still being processed by the server."},
		{"sync failed", syncFailed, 429, `The disruption budget web does not allow evicting pods currently because it failed sync: found no controllers for pod "x"`},
		{"negative", pdb(-1, 3, 2, 1), 403, "The disruption budget web does not allow evicting pods currently: pdb disruptions allowed is negative"},
		{"too many unconfirmed", tooMany, 403, "The disruption budget web does not allow evicting pods currently: too many pending evictions not confirmed by PDB controller"},
	} {
		_, err := decrement(tc.pdb, "web-1", now)
		st, ok := err.(apierrors.APIStatus)
		if !ok {
			t.Errorf("%s: err = %v, want a status error", tc.name, err)
			continue
		}
		s := st.Status()
		if s.Code != tc.code || s.Details == nil || len(s.Details.Causes) != 1 || s.Details.Causes[0].Type != policyv1.DisruptionBudgetCause ||
			s.Details.Causes[0].Message != tc.message {
			t.Errorf("%s: %d %+v; want %d with cause %q", tc.name, s.Code, s.Details, tc.code, tc.message)
		}
	}
}
