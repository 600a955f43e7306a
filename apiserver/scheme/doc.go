// Package scheme builds the runtime.Scheme the API server serves from: the
// k8s.io/api types of every served group, registered a second time under the
// group's internal version (k8s.io/apiserver's handlers decode into it, and
// with the same Go type no conversion is needed), upstream's defaulting
// functions, and the field selectors each kind supports.
package scheme
