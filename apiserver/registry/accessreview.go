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

// SelfSubjectAccessReviewREST answers "may I?" (kubectl auth can-i) by asking
// the server's authorizer about the requesting user.
type SelfSubjectAccessReviewREST struct {
	Authorizer authorizer.Authorizer
}

var (
	_ rest.Creater              = &SelfSubjectAccessReviewREST{}
	_ rest.Scoper               = &SelfSubjectAccessReviewREST{}
	_ rest.SingularNameProvider = &SelfSubjectAccessReviewREST{}
)

func (r *SelfSubjectAccessReviewREST) New() runtime.Object {
	return &authorizationv1.SelfSubjectAccessReview{}
}
func (r *SelfSubjectAccessReviewREST) Destroy()                {}
func (r *SelfSubjectAccessReviewREST) NamespaceScoped() bool   { return false }
func (r *SelfSubjectAccessReviewREST) GetSingularName() string { return "selfsubjectaccessreview" }

func (r *SelfSubjectAccessReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	review, ok := obj.(*authorizationv1.SelfSubjectAccessReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a SelfSubjectAccessReview: %T", obj))
	}
	errs := validateReviewSpec(review.Spec.ResourceAttributes, review.Spec.NonResourceAttributes)
	errs = append(errs, validateReviewMeta(review.ObjectMeta, false)...)
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(reviewKind, "", errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, review.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	review.Status = authorize(ctx, r.Authorizer, u, review.Spec.ResourceAttributes, review.Spec.NonResourceAttributes)
	return review, nil
}

// SubjectAccessReviewREST answers "may this user?" for any user, groups and
// extra (kubectl auth can-i --as asks through impersonation instead).
type SubjectAccessReviewREST struct {
	Authorizer authorizer.Authorizer
}

var (
	_ rest.Creater              = &SubjectAccessReviewREST{}
	_ rest.Scoper               = &SubjectAccessReviewREST{}
	_ rest.SingularNameProvider = &SubjectAccessReviewREST{}
)

func (r *SubjectAccessReviewREST) New() runtime.Object {
	return &authorizationv1.SubjectAccessReview{}
}
func (r *SubjectAccessReviewREST) Destroy()                {}
func (r *SubjectAccessReviewREST) NamespaceScoped() bool   { return false }
func (r *SubjectAccessReviewREST) GetSingularName() string { return "subjectaccessreview" }

func (r *SubjectAccessReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	review, ok := obj.(*authorizationv1.SubjectAccessReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a SubjectAccessReview: %T", obj))
	}
	errs := validateReviewSpec(review.Spec.ResourceAttributes, review.Spec.NonResourceAttributes)
	errs = append(errs, validateReviewSubject(review.Spec)...)
	errs = append(errs, validateReviewMeta(review.ObjectMeta, false)...)
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(reviewKind, "", errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, review.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	review.Status = authorize(ctx, r.Authorizer, reviewedUser(review.Spec), review.Spec.ResourceAttributes, review.Spec.NonResourceAttributes)
	return review, nil
}

// LocalSubjectAccessReviewREST is SubjectAccessReview within one namespace,
// so a namespace's admins may ask it (the admin role grants it).
type LocalSubjectAccessReviewREST struct {
	Authorizer authorizer.Authorizer
}

var (
	_ rest.Creater              = &LocalSubjectAccessReviewREST{}
	_ rest.Scoper               = &LocalSubjectAccessReviewREST{}
	_ rest.SingularNameProvider = &LocalSubjectAccessReviewREST{}
)

func (r *LocalSubjectAccessReviewREST) New() runtime.Object {
	return &authorizationv1.LocalSubjectAccessReview{}
}
func (r *LocalSubjectAccessReviewREST) Destroy()                {}
func (r *LocalSubjectAccessReviewREST) NamespaceScoped() bool   { return true }
func (r *LocalSubjectAccessReviewREST) GetSingularName() string { return "localsubjectaccessreview" }

func (r *LocalSubjectAccessReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	review, ok := obj.(*authorizationv1.LocalSubjectAccessReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a LocalSubjectAccessReview: %T", obj))
	}
	errs := validateReviewSpec(review.Spec.ResourceAttributes, review.Spec.NonResourceAttributes)
	errs = append(errs, validateReviewSubject(review.Spec)...)
	errs = append(errs, validateReviewMeta(review.ObjectMeta, true)...)
	if ra := review.Spec.ResourceAttributes; ra != nil && ra.Namespace != review.Namespace {
		errs = append(errs, field.Invalid(field.NewPath("spec.resourceAttributes.namespace"), ra.Namespace, "must match metadata.namespace"))
	}
	if nra := review.Spec.NonResourceAttributes; nra != nil {
		errs = append(errs, field.Invalid(field.NewPath("spec.nonResourceAttributes"), nonResourceValueOf(nra), "disallowed on this kind of request"))
	}
	if len(errs) > 0 {
		return nil, apierrors.NewInvalid(reviewKind, "", errs)
	}
	namespace := genericapirequest.NamespaceValue(ctx)
	if namespace == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("namespace is required on this type: %v", namespace))
	}
	if namespace != review.Namespace {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("spec.resourceAttributes.namespace must match namespace: %v", namespace))
	}
	if createValidation != nil {
		if err := createValidation(ctx, review.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	review.Status = authorize(ctx, r.Authorizer, reviewedUser(review.Spec), review.Spec.ResourceAttributes, review.Spec.NonResourceAttributes)
	return review, nil
}

// SelfSubjectRulesReviewREST answers "what may I do in this namespace?"
// (kubectl auth can-i --list) with the rules the server's rule resolver
// finds for the requesting user.
type SelfSubjectRulesReviewREST struct {
	Rules authorizer.RuleResolver
}

var (
	_ rest.Creater              = &SelfSubjectRulesReviewREST{}
	_ rest.Scoper               = &SelfSubjectRulesReviewREST{}
	_ rest.SingularNameProvider = &SelfSubjectRulesReviewREST{}
)

func (r *SelfSubjectRulesReviewREST) New() runtime.Object {
	return &authorizationv1.SelfSubjectRulesReview{}
}
func (r *SelfSubjectRulesReviewREST) Destroy()                {}
func (r *SelfSubjectRulesReviewREST) NamespaceScoped() bool   { return false }
func (r *SelfSubjectRulesReviewREST) GetSingularName() string { return "selfsubjectrulesreview" }

func (r *SelfSubjectRulesReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	review, ok := obj.(*authorizationv1.SelfSubjectRulesReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a SelfSubjectRulesReview: %T", obj))
	}
	u, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return nil, apierrors.NewBadRequest("no user present on request")
	}
	namespace := review.Spec.Namespace
	if namespace == "" {
		return nil, apierrors.NewBadRequest("no namespace on request")
	}
	if createValidation != nil {
		if err := createValidation(ctx, review.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
	res, nonRes, incomplete, err := r.Rules.RulesFor(ctx, u, namespace)
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

// SelfSubjectReviewREST answers "who am I?" (kubectl auth whoami) with the
// requesting user as the server authenticated it.
type SelfSubjectReviewREST struct{}

var (
	_ rest.Creater              = &SelfSubjectReviewREST{}
	_ rest.Scoper               = &SelfSubjectReviewREST{}
	_ rest.SingularNameProvider = &SelfSubjectReviewREST{}
)

func (r *SelfSubjectReviewREST) New() runtime.Object     { return &authenticationv1.SelfSubjectReview{} }
func (r *SelfSubjectReviewREST) Destroy()                {}
func (r *SelfSubjectReviewREST) NamespaceScoped() bool   { return false }
func (r *SelfSubjectReviewREST) GetSingularName() string { return "selfsubjectreview" }

func (r *SelfSubjectReviewREST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	review, ok := obj.(*authenticationv1.SelfSubjectReview)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a SelfSubjectReview: %T", obj))
	}
	if createValidation != nil {
		if err := createValidation(ctx, review.DeepCopyObject()); err != nil {
			return nil, err
		}
	}
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
	review.Status.UserInfo = info
	return review, nil
}
