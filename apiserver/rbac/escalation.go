package rbac

import (
	"context"
	"fmt"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	rbacvalidation "k8s.io/component-helpers/auth/rbac/validation"
)

// ConfirmNoEscalation returns nil when u already holds, in namespace ("":
// through cluster bindings only), every permission rules grant; otherwise
// an error listing what u lacks, worded as upstream's, so that nobody grants
// through a role or binding more than they have themselves.
func (r *Resolver) ConfirmNoEscalation(ctx context.Context, u user.Info, namespace string, rules []rbacv1.PolicyRule) error {
	held, resolveErr := r.Rules(ctx, u, namespace)
	ok, missing := rbacvalidation.Covers(held, rules)
	if ok {
		return nil
	}
	var lines []string
	for _, m := range compactByVerb(missing) {
		if s := ruleString(m); !slices.Contains(lines, s) {
			lines = append(lines, s)
		}
	}
	slices.Sort(lines)
	msg := fmt.Sprintf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s", u.GetName(), u.GetGroups(), strings.Join(lines, "\n"))
	if resolveErr != nil {
		msg += fmt.Sprintf("; resolution errors: %v", []error{resolveErr})
	}
	return fmt.Errorf("%s", msg)
}

// compactByVerb merges the missing rules (one verb on one resource, or on one
// URL, each, as Covers breaks them down) that differ only in their verb, so
// the message names each resource once.
func compactByVerb(rules []rbacv1.PolicyRule) []rbacv1.PolicyRule {
	type key struct{ group, resource, name string }
	var out []rbacv1.PolicyRule
	index := map[key]int{}
	for _, r := range rules {
		simple := len(r.NonResourceURLs) == 0 && len(r.APIGroups) == 1 && len(r.Resources) == 1 && len(r.ResourceNames) <= 1
		if !simple {
			out = append(out, r)
			continue
		}
		k := key{group: r.APIGroups[0], resource: r.Resources[0]}
		if len(r.ResourceNames) == 1 {
			k.name = "\x00" + r.ResourceNames[0]
		}
		if i, ok := index[k]; ok {
			out[i].Verbs = append(out[i].Verbs, r.Verbs...)
			continue
		}
		index[k] = len(out)
		out = append(out, *r.DeepCopy())
	}
	return out
}

// ruleString prints a rule's non-empty fields as upstream's messages do:
// {APIGroups:["apps"], Resources:["deployments"], Verbs:["get" "list"]}.
func ruleString(r rbacv1.PolicyRule) string {
	var parts []string
	for _, f := range []struct {
		name   string
		values []string
	}{{"APIGroups", r.APIGroups}, {"Resources", r.Resources}, {"NonResourceURLs", r.NonResourceURLs}, {"ResourceNames", r.ResourceNames}, {"Verbs", r.Verbs}} {
		if len(f.values) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%q", f.name, f.values))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
