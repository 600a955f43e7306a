package tables

import (
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apiserver/pkg/registry/rest"
)

// PriorityClasses: NAME VALUE GLOBAL-DEFAULT AGE PREEMPTIONPOLICY, the last
// after AGE and not a wide column, as upstream prints it.
var PriorityClasses rest.TableConvertor = For([]Column{
	{Name: "Value", Type: "integer", Description: schedulingv1.PriorityClass{}.SwaggerDoc()["value"]},
	{Name: "Global-Default", Type: "boolean", Description: schedulingv1.PriorityClass{}.SwaggerDoc()["globalDefault"]},
	age,
	{Name: "PreemptionPolicy", Description: schedulingv1.PriorityClass{}.SwaggerDoc()["preemptionPolicy"]},
}, func(pc *schedulingv1.PriorityClass) []any {
	policy := ""
	if pc.PreemptionPolicy != nil {
		policy = string(*pc.PreemptionPolicy)
	}
	return []any{int64(pc.Value), pc.GlobalDefault, Age(pc.CreationTimestamp), policy}
})
