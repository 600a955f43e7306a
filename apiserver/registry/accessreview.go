package registry

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
)

// reviewREST serves one kind of review: an object that is only created,
// answered from the request and never stored. check validates it (an
// API error), answer fills in its status.
type reviewREST[T runtime.Object] struct {
	kind       string
	singular   string
	namespaced bool
	newObj     func() T
	check      func(context.Context, T) error
	answer     func(context.Context, T) (runtime.Object, error)
}

var (
	_ rest.Creater              = &reviewREST[*authorizationv1.SubjectAccessReview]{}
	_ rest.Scoper               = &reviewREST[*authorizationv1.SubjectAccessReview]{}
	_ rest.SingularNameProvider = &reviewREST[*authorizationv1.SubjectAccessReview]{}
)

func (r *reviewREST[T]) New() runtime.Object     { return r.newObj() }
func (r *reviewREST[T]) Destroy()                {}
func (r *reviewREST[T]) NamespaceScoped() bool   { return r.namespaced }
func (r *reviewREST[T]) GetSingularName() string { return r.singular }

func (r *reviewREST[T]) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	review, ok := obj.(T)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a %s: %T", r.kind, obj))
	}
	if r.check != nil {
		if err := r.check(ctx, review); err != nil {
			return nil, err
		}
	}
	if createValidation != nil {
		if err := createValidation(ctx, review.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	return r.answer(ctx, review)
}

// invalid is the error of a review with errs, nil without.
func invalid(errs field.ErrorList) error {
	if len(errs) > 0 {
		return apierrors.NewInvalid(reviewKind, "", errs)
	}
	return nil
}

// NewSelfSubjectAccessReviewREST answers "may I?" (kubectl auth can-i) by
// asking a about the requesting user.
func NewSelfSubjectAccessReviewREST(a authorizer.Authorizer) rest.Storage {
	return &reviewREST[*authorizationv1.SelfSubjectAccessReview]{
		kind: "SelfSubjectAccessReview", singular: "selfsubjectaccessreview",
		newObj: func() *authorizationv1.SelfSubjectAccessReview { return &authorizationv1.SelfSubjectAccessReview{} },
		check: func(_ context.Context, r *authorizationv1.SelfSubjectAccessReview) error {
			errs := validateReviewSpec(r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes)
			return invalid(append(errs, validateReviewMeta(r.ObjectMeta, false)...))
		},
		answer: func(ctx context.Context, r *authorizationv1.SelfSubjectAccessReview) (runtime.Object, error) {
			u, ok := genericapirequest.UserFrom(ctx)
			if !ok {
				return nil, apierrors.NewBadRequest("no user present on request")
			}
			r.Status = authorize(ctx, a, u, r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes)
			return r, nil
		},
	}
}

// NewSubjectAccessReviewREST answers "may this user?" for any user, groups
// and extra (kubectl auth can-i --as asks through impersonation instead).
func NewSubjectAccessReviewREST(a authorizer.Authorizer) rest.Storage {
	return &reviewREST[*authorizationv1.SubjectAccessReview]{
		kind: "SubjectAccessReview", singular: "subjectaccessreview",
		newObj: func() *authorizationv1.SubjectAccessReview { return &authorizationv1.SubjectAccessReview{} },
		check: func(_ context.Context, r *authorizationv1.SubjectAccessReview) error {
			errs := validateReviewSpec(r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes)
			errs = append(errs, validateReviewSubject(r.Spec)...)
			return invalid(append(errs, validateReviewMeta(r.ObjectMeta, false)...))
		},
		answer: func(ctx context.Context, r *authorizationv1.SubjectAccessReview) (runtime.Object, error) {
			r.Status = authorize(ctx, a, reviewedUser(r.Spec), r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes)
			return r, nil
		},
	}
}

// NewLocalSubjectAccessReviewREST is SubjectAccessReview within one
// namespace, so a namespace's admins may ask it (the admin role grants it).
func NewLocalSubjectAccessReviewREST(a authorizer.Authorizer) rest.Storage {
	return &reviewREST[*authorizationv1.LocalSubjectAccessReview]{
		kind: "LocalSubjectAccessReview", singular: "localsubjectaccessreview", namespaced: true,
		newObj: func() *authorizationv1.LocalSubjectAccessReview { return &authorizationv1.LocalSubjectAccessReview{} },
		check: func(ctx context.Context, r *authorizationv1.LocalSubjectAccessReview) error {
			errs := validateReviewSpec(r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes)
			errs = append(errs, validateReviewSubject(r.Spec)...)
			errs = append(errs, validateReviewMeta(r.ObjectMeta, true)...)
			if ra := r.Spec.ResourceAttributes; ra != nil && ra.Namespace != r.Namespace {
				errs = append(errs, field.Invalid(field.NewPath("spec.resourceAttributes.namespace"), ra.Namespace, "must match metadata.namespace"))
			}
			if nra := r.Spec.NonResourceAttributes; nra != nil {
				errs = append(errs, field.Invalid(field.NewPath("spec.nonResourceAttributes"), nonResourceValueOf(nra), "disallowed on this kind of request"))
			}
			if err := invalid(errs); err != nil {
				return err
			}
			namespace := genericapirequest.NamespaceValue(ctx)
			if namespace == "" {
				return apierrors.NewBadRequest(fmt.Sprintf("namespace is required on this type: %v", namespace))
			}
			if namespace != r.Namespace {
				return apierrors.NewBadRequest(fmt.Sprintf("spec.resourceAttributes.namespace must match namespace: %v", namespace))
			}
			return nil
		},
		answer: func(ctx context.Context, r *authorizationv1.LocalSubjectAccessReview) (runtime.Object, error) {
			r.Status = authorize(ctx, a, reviewedUser(r.Spec), r.Spec.ResourceAttributes, r.Spec.NonResourceAttributes)
			return r, nil
		},
	}
}

// NewSelfSubjectRulesReviewREST answers "what may I do in this namespace?"
// (kubectl auth can-i --list) with the rules rules finds for the
// requesting user.
func NewSelfSubjectRulesReviewREST(rules authorizer.RuleResolver) rest.Storage {
	return &reviewREST[*authorizationv1.SelfSubjectRulesReview]{
		kind: "SelfSubjectRulesReview", singular: "selfsubjectrulesreview",
		newObj: func() *authorizationv1.SelfSubjectRulesReview { return &authorizationv1.SelfSubjectRulesReview{} },
		check: func(ctx context.Context, r *authorizationv1.SelfSubjectRulesReview) error {
			if _, ok := genericapirequest.UserFrom(ctx); !ok {
				return apierrors.NewBadRequest("no user present on request")
			}
			if r.Spec.Namespace == "" {
				return apierrors.NewBadRequest("no namespace on request")
			}
			return nil
		},
		answer: func(ctx context.Context, r *authorizationv1.SelfSubjectRulesReview) (runtime.Object, error) {
			u, _ := genericapirequest.UserFrom(ctx)
			res, nonRes, incomplete, err := rules.RulesFor(ctx, u, r.Spec.Namespace)
			out := &authorizationv1.SelfSubjectRulesReview{Status: authorizationv1.SubjectRulesReviewStatus{
				ResourceRules:    make([]authorizationv1.ResourceRule, len(res)),
				NonResourceRules: make([]authorizationv1.NonResourceRule, len(nonRes)),
				Incomplete:       incomplete,
			}}
			for i, rule := range res {
				out.Status.ResourceRules[i] = authorizationv1.ResourceRule{Verbs: rule.GetVerbs(), APIGroups: rule.GetAPIGroups(),
					Resources: rule.GetResources(), ResourceNames: rule.GetResourceNames()}
			}
			for i, rule := range nonRes {
				out.Status.NonResourceRules[i] = authorizationv1.NonResourceRule{Verbs: rule.GetVerbs(), NonResourceURLs: rule.GetNonResourceURLs()}
			}
			if err != nil {
				out.Status.EvaluationError = err.Error()
			}
			return out, nil
		},
	}
}

// NewSelfSubjectReviewREST answers "who am I?" (kubectl auth whoami) with
// the requesting user as the server authenticated it.
func NewSelfSubjectReviewREST() rest.Storage {
	return &reviewREST[*authenticationv1.SelfSubjectReview]{
		kind: "SelfSubjectReview", singular: "selfsubjectreview",
		newObj: func() *authenticationv1.SelfSubjectReview { return &authenticationv1.SelfSubjectReview{} },
		answer: func(ctx context.Context, r *authenticationv1.SelfSubjectReview) (runtime.Object, error) {
			u, ok := genericapirequest.UserFrom(ctx)
			if !ok {
				return nil, apierrors.NewBadRequest("no user in the request")
			}
			info := authenticationv1.UserInfo{Username: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups()}
			if extra := u.GetExtra(); len(extra) > 0 {
				info.Extra = map[string]authenticationv1.ExtraValue{}
				for k, v := range extra {
					info.Extra[k] = v
				}
			}
			r.Status.UserInfo = info
			return r, nil
		},
	}
}

// reviewKind is what upstream names an invalid review: the group only (its
// handlers see the review with no kind set).
var reviewKind = schema.GroupKind{Group: authorizationv1.GroupName}

// nonResourceValue prints non-resource attributes in validation messages
// as upstream does (its internal type has no JSON field names).
type nonResourceValue struct{ Path, Verb string }

func nonResourceValueOf(nra *authorizationv1.NonResourceAttributes) *nonResourceValue {
	if nra == nil {
		return nil
	}
	return &nonResourceValue{Path: nra.Path, Verb: nra.Verb}
}

// validateReviewSpec: a review asks about exactly one of a resource or a
// non-resource URL, and its selectors are well-formed.
func validateReviewSpec(ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) field.ErrorList {
	var errs field.ErrorList
	if (ra == nil) == (nra == nil) {
		errs = append(errs, field.Invalid(field.NewPath("spec"), nonResourceValueOf(nra), "exactly one of nonResourceAttributes or resourceAttributes must be specified"))
	}
	if ra == nil {
		return errs
	}
	path := field.NewPath("spec.resourceAttributes")
	if fs := ra.FieldSelector; fs != nil {
		p := path.Child("fieldSelector")
		if fs.RawSelector != "" && len(fs.Requirements) > 0 {
			errs = append(errs, field.Invalid(p.Child("rawSelector"), fs.RawSelector, "may not specified at the same time as requirements"))
		}
		if fs.RawSelector == "" && len(fs.Requirements) == 0 {
			errs = append(errs, field.Required(p.Child("requirements"), fmt.Sprintf("when %s is specified, requirements or rawSelector is required", p)))
		}
	}
	if ls := ra.LabelSelector; ls != nil {
		p := path.Child("labelSelector")
		if ls.RawSelector != "" && len(ls.Requirements) > 0 {
			errs = append(errs, field.Invalid(p.Child("rawSelector"), ls.RawSelector, "may not specified at the same time as requirements"))
		}
		if ls.RawSelector == "" && len(ls.Requirements) == 0 {
			errs = append(errs, field.Required(p.Child("requirements"), fmt.Sprintf("when %s is specified, requirements or rawSelector is required", p)))
		}
	}
	return errs
}

func validateReviewSubject(spec authorizationv1.SubjectAccessReviewSpec) field.ErrorList {
	if spec.User == "" && len(spec.Groups) == 0 {
		return field.ErrorList{field.Invalid(field.NewPath("spec.user"), spec.User, "at least one of user or group must be specified")}
	}
	return nil
}

// validateReviewMeta: a review is no stored object, so it has no metadata
// (a local review its namespace only).
func validateReviewMeta(m metav1.ObjectMeta, namespaced bool) field.ErrorList {
	m.ManagedFields = nil
	msg := "must be empty"
	if namespaced {
		m.Namespace = ""
		msg = "must be empty except for namespace"
	}
	if !apiequality.Semantic.DeepEqual(metav1.ObjectMeta{}, m) {
		return field.ErrorList{field.Invalid(field.NewPath("metadata"), m, msg)}
	}
	return nil
}

func reviewedUser(spec authorizationv1.SubjectAccessReviewSpec) user.Info {
	u := &user.DefaultInfo{Name: spec.User, UID: spec.UID, Groups: spec.Groups}
	if spec.Extra != nil {
		u.Extra = map[string][]string{}
		for k, v := range spec.Extra {
			u.Extra[k] = v
		}
	}
	return u
}

// authorize asks a the access review's question about u. An empty version
// means any version.
func authorize(ctx context.Context, a authorizer.Authorizer, u user.Info, ra *authorizationv1.ResourceAttributes, nra *authorizationv1.NonResourceAttributes) authorizationv1.SubjectAccessReviewStatus {
	attrs := authorizer.AttributesRecord{User: u}
	if ra != nil {
		attrs.Verb, attrs.Namespace, attrs.APIGroup, attrs.APIVersion = ra.Verb, ra.Namespace, ra.Group, ra.Version
		attrs.Resource, attrs.Subresource, attrs.Name, attrs.ResourceRequest = ra.Resource, ra.Subresource, ra.Name, true
		if attrs.APIVersion == "" {
			attrs.APIVersion = "*"
		}
	} else {
		attrs.Verb, attrs.Path = nra.Verb, nra.Path
	}
	decision, reason, err := a.Authorize(ctx, attrs)
	status := authorizationv1.SubjectAccessReviewStatus{
		Allowed: decision == authorizer.DecisionAllow,
		Denied:  decision == authorizer.DecisionDeny,
		Reason:  reason,
	}
	if err != nil {
		status.EvaluationError = err.Error()
	}
	return status
}
