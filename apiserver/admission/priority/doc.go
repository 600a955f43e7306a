// Package priority is kube-apiserver's Priority admission plugin, a
// k8s.io/apiserver admission.Interface over pods and PriorityClasses. A new
// pod's spec.priorityClassName is resolved to spec.priority and
// spec.preemptionPolicy from its class; a pod naming a class that does not
// exist is refused (403 Forbidden), and one naming none gets the global
// default class (the lowest-valued, should several claim it) or priority 0
// with PreemptLowerPriority. A pod that sets spec.priority or
// spec.preemptionPolicy itself must agree with what its class gives. An
// update keeps the priority the pod was created with. A PriorityClass may not
// become the global default while another one is.
//
// Upstream's error messages and codes are kept, so kubectl prints what it
// prints against kube-apiserver. The plugin is on by default, as upstream's
// (envtest keeps it on too); apiserver.Config.DisableAdmissionPlugins turns
// it off, and pods then keep the priority fields they were sent.
package priority
