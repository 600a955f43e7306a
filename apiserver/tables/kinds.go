package tables

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/apiserver/pkg/registry/rest"
)

var (
	containersCol = Column{Name: "Containers", Wide: true, Description: "Names of each container in the template."}
	imagesCol     = Column{Name: "Images", Wide: true, Description: "Images referenced by each container in the template."}
	selectorCol   = Column{Name: "Selector", Wide: true, Description: "Label selector for pods."}
	integer       = "integer"
)

func containers(cs []corev1.Container) (string, string) {
	var names, images []string
	for _, c := range cs {
		names = append(names, c.Name)
		images = append(images, c.Image)
	}
	return strings.Join(names, ","), strings.Join(images, ",")
}

func selector(s *metav1.LabelSelector) string {
	if s == nil {
		return "<none>"
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return "<error>"
	}
	return orNone(sel.String())
}

func replicas(p *int32) int64 {
	if p == nil {
		return 0
	}
	return int64(*p)
}

// Pods: NAME READY STATUS RESTARTS AGE, wide IP NODE NOMINATED NODE READINESS GATES.
var Pods = For([]Column{
	{Name: "Ready", Description: "The aggregate readiness state of this pod for accepting traffic."},
	{Name: "Status", Description: "The aggregate status of the containers in this pod."},
	{Name: "Restarts", Description: "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."},
	age,
	{Name: "IP", Wide: true, Description: "IP address allocated to the pod"},
	{Name: "Node", Wide: true, Description: "Name of the node the pod is assigned to"},
	{Name: "Nominated Node", Wide: true, Description: "Name of the node the pod is nominated to"},
	{Name: "Readiness Gates", Wide: true, Description: "Readiness gates of the pod"},
}, func(p *corev1.Pod) []any {
	ready, total, restarts, last := 0, len(p.Spec.Containers), 0, time.Time{}
	for _, cs := range p.Status.ContainerStatuses {
		if cs.Ready {
			ready++
		}
		restarts += int(cs.RestartCount)
		if t := cs.LastTerminationState.Terminated; t != nil && t.FinishedAt.After(last) {
			last = t.FinishedAt.Time
		}
	}
	restartCell := strconv.Itoa(restarts)
	if restarts > 0 && !last.IsZero() {
		restartCell = fmt.Sprintf("%d (%s ago)", restarts, duration.HumanDuration(time.Since(last)))
	}
	gates := "<none>"
	if n := len(p.Spec.ReadinessGates); n > 0 {
		trueGates := 0
		for _, g := range p.Spec.ReadinessGates {
			for _, c := range p.Status.Conditions {
				if c.Type == g.ConditionType && c.Status == corev1.ConditionTrue {
					trueGates++
				}
			}
		}
		gates = fmt.Sprintf("%d/%d", trueGates, n)
	}
	return []any{fmt.Sprintf("%d/%d", ready, total), PodStatus(p), restartCell, Age(p.CreationTimestamp),
		orNone(p.Status.PodIP), orNone(p.Spec.NodeName), orNone(p.Status.NominatedNodeName), gates}
})

// PodStatus is the STATUS column: the most telling reason among the pod's
// phase, its init containers and its containers, as kubectl shows it.
func PodStatus(p *corev1.Pod) string {
	reason := string(p.Status.Phase)
	if p.Status.Reason != "" {
		reason = p.Status.Reason
	}
	initializing := false
	for i, cs := range p.Status.InitContainerStatuses {
		switch {
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0:
			continue
		case cs.State.Terminated != nil:
			if cs.State.Terminated.Reason != "" {
				reason = "Init:" + cs.State.Terminated.Reason
			} else if cs.State.Terminated.Signal != 0 {
				reason = fmt.Sprintf("Init:Signal:%d", cs.State.Terminated.Signal)
			} else {
				reason = fmt.Sprintf("Init:ExitCode:%d", cs.State.Terminated.ExitCode)
			}
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "" && cs.State.Waiting.Reason != "PodInitializing":
			reason = "Init:" + cs.State.Waiting.Reason
		case cs.Started != nil && *cs.Started && isRestartableInit(p, cs.Name):
			continue
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(p.Spec.InitContainers))
		}
		initializing = true
		break
	}
	if !initializing {
		hasRunning := false
		for i := len(p.Status.ContainerStatuses) - 1; i >= 0; i-- {
			cs := p.Status.ContainerStatuses[i]
			switch {
			case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
				reason = cs.State.Waiting.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Reason != "":
				reason = cs.State.Terminated.Reason
			case cs.State.Terminated != nil && cs.State.Terminated.Signal != 0:
				reason = fmt.Sprintf("Signal:%d", cs.State.Terminated.Signal)
			case cs.State.Terminated != nil:
				reason = fmt.Sprintf("ExitCode:%d", cs.State.Terminated.ExitCode)
			case cs.Ready && cs.State.Running != nil:
				hasRunning = true
			}
		}
		if reason == "Completed" && hasRunning {
			reason = "NotReady"
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
					reason = string(corev1.PodRunning)
				}
			}
		}
	}
	if p.DeletionTimestamp != nil {
		if p.Status.Reason == "NodeLost" {
			return string(corev1.PodUnknown)
		}
		return "Terminating"
	}
	return reason
}

func isRestartableInit(p *corev1.Pod, name string) bool {
	for _, c := range p.Spec.InitContainers {
		if c.Name == name {
			return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
		}
	}
	return false
}

// Deployments: NAME READY UP-TO-DATE AVAILABLE AGE.
var Deployments = For([]Column{
	{Name: "Ready", Description: "Number of the pod with ready state"},
	{Name: "Up-to-date", Type: integer, Description: "Total number of non-terminated pods targeted by this deployment that have the desired template spec."},
	{Name: "Available", Type: integer, Description: "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."},
	age, containersCol, imagesCol, selectorCol,
}, func(d *appsv1.Deployment) []any {
	names, images := containers(d.Spec.Template.Spec.Containers)
	return []any{fmt.Sprintf("%d/%d", d.Status.ReadyReplicas, replicas(d.Spec.Replicas)), int64(d.Status.UpdatedReplicas),
		int64(d.Status.AvailableReplicas), Age(d.CreationTimestamp), names, images, selector(d.Spec.Selector)}
})

// ReplicaSets: NAME DESIRED CURRENT READY AGE.
var ReplicaSets = For([]Column{
	{Name: "Desired", Type: integer, Description: "Number of desired pods."},
	{Name: "Current", Type: integer, Description: "Number of actual pods."},
	{Name: "Ready", Type: integer, Description: "The number of ready pods."},
	age, containersCol, imagesCol, selectorCol,
}, func(rs *appsv1.ReplicaSet) []any {
	names, images := containers(rs.Spec.Template.Spec.Containers)
	return []any{replicas(rs.Spec.Replicas), int64(rs.Status.Replicas), int64(rs.Status.ReadyReplicas),
		Age(rs.CreationTimestamp), names, images, selector(rs.Spec.Selector)}
})

// ReplicationControllers mirror ReplicaSets.
var ReplicationControllers = For([]Column{
	{Name: "Desired", Type: integer}, {Name: "Current", Type: integer}, {Name: "Ready", Type: integer},
	age, containersCol, imagesCol, selectorCol,
}, func(rc *corev1.ReplicationController) []any {
	names, images := "", ""
	if rc.Spec.Template != nil {
		names, images = containers(rc.Spec.Template.Spec.Containers)
	}
	sel := []string{}
	for k, v := range rc.Spec.Selector {
		sel = append(sel, k+"="+v)
	}
	sort.Strings(sel)
	return []any{replicas(rc.Spec.Replicas), int64(rc.Status.Replicas), int64(rc.Status.ReadyReplicas),
		Age(rc.CreationTimestamp), names, images, join(sel)}
})

// StatefulSets: NAME READY AGE.
var StatefulSets = For([]Column{
	{Name: "Ready", Description: "Number of the pod with ready state"},
	age, containersCol, imagesCol,
}, func(s *appsv1.StatefulSet) []any {
	names, images := containers(s.Spec.Template.Spec.Containers)
	return []any{fmt.Sprintf("%d/%d", s.Status.ReadyReplicas, replicas(s.Spec.Replicas)), Age(s.CreationTimestamp), names, images}
})

// DaemonSets: NAME DESIRED CURRENT READY UP-TO-DATE AVAILABLE NODE SELECTOR AGE.
var DaemonSets = For([]Column{
	{Name: "Desired", Type: integer}, {Name: "Current", Type: integer}, {Name: "Ready", Type: integer},
	{Name: "Up-to-date", Type: integer}, {Name: "Available", Type: integer},
	{Name: "Node Selector", Description: "NodeSelector is a selector which must be true for the pod to fit on a node."},
	age, containersCol, imagesCol, selectorCol,
}, func(d *appsv1.DaemonSet) []any {
	names, images := containers(d.Spec.Template.Spec.Containers)
	var ns []string
	for k, v := range d.Spec.Template.Spec.NodeSelector {
		ns = append(ns, k+"="+v)
	}
	sort.Strings(ns)
	return []any{int64(d.Status.DesiredNumberScheduled), int64(d.Status.CurrentNumberScheduled), int64(d.Status.NumberReady),
		int64(d.Status.UpdatedNumberScheduled), int64(d.Status.NumberAvailable), join(ns), Age(d.CreationTimestamp),
		names, images, selector(d.Spec.Selector)}
})

// Jobs: NAME STATUS COMPLETIONS DURATION AGE.
var Jobs = For([]Column{
	{Name: "Status", Description: "Status of the job."},
	{Name: "Completions", Description: "The completion status of the job"},
	{Name: "Duration", Description: "Time required to complete the job."},
	age, containersCol, imagesCol, selectorCol,
}, func(j *batchv1.Job) []any {
	names, images := containers(j.Spec.Template.Spec.Containers)
	completions := fmt.Sprintf("%d/1 of %d", j.Status.Succeeded, replicas(j.Spec.Parallelism))
	if j.Spec.Completions != nil {
		completions = fmt.Sprintf("%d/%d", j.Status.Succeeded, *j.Spec.Completions)
	}
	dur := ""
	switch {
	case j.Status.StartTime == nil:
	case j.Status.CompletionTime == nil:
		dur = duration.HumanDuration(time.Since(j.Status.StartTime.Time))
	default:
		dur = duration.HumanDuration(j.Status.CompletionTime.Sub(j.Status.StartTime.Time))
	}
	return []any{JobStatus(j), completions, dur, Age(j.CreationTimestamp), names, images, selector(j.Spec.Selector)}
})

// JobStatus is the STATUS column of a job.
func JobStatus(j *batchv1.Job) string {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return "Complete"
		case batchv1.JobFailed:
			return "Failed"
		case batchv1.JobFailureTarget:
			return "FailureTarget"
		case batchv1.JobSuccessCriteriaMet:
			return "SuccessCriteriaMet"
		case batchv1.JobSuspended:
			return "Suspended"
		}
	}
	if j.DeletionTimestamp != nil {
		return "Terminating"
	}
	return "Running"
}

// CronJobs: NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE.
var CronJobs = For([]Column{
	{Name: "Schedule", Description: "The schedule in Cron format"},
	{Name: "Timezone", Description: "The timezone"},
	{Name: "Suspend", Type: "boolean"},
	{Name: "Active", Type: integer},
	{Name: "Last Schedule"},
	age, containersCol, imagesCol, selectorCol,
}, func(c *batchv1.CronJob) []any {
	names, images := containers(c.Spec.JobTemplate.Spec.Template.Spec.Containers)
	last := "<none>"
	if c.Status.LastScheduleTime != nil {
		last = Age(*c.Status.LastScheduleTime)
	}
	tz := "<none>"
	if c.Spec.TimeZone != nil {
		tz = *c.Spec.TimeZone
	}
	return []any{c.Spec.Schedule, tz, c.Spec.Suspend != nil && *c.Spec.Suspend, int64(len(c.Status.Active)), last,
		Age(c.CreationTimestamp), names, images, selector(c.Spec.JobTemplate.Spec.Selector)}
})

// Services: NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE.
var Services = For([]Column{
	{Name: "Type", Description: "type determines how the Service is exposed."},
	{Name: "Cluster-IP", Description: "clusterIP is the IP address of the service."},
	{Name: "External-IP", Description: "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."},
	{Name: "Port(s)", Description: "The list of ports that are exposed by this service."},
	age,
	{Name: "Selector", Wide: true, Description: "Route service traffic to pods with label keys and values matching this selector."},
}, func(s *corev1.Service) []any {
	var ports []string
	for _, p := range s.Spec.Ports {
		if p.NodePort != 0 {
			ports = append(ports, fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol))
		} else {
			ports = append(ports, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
		}
	}
	var sel []string
	for k, v := range s.Spec.Selector {
		sel = append(sel, k+"="+v)
	}
	sort.Strings(sel)
	clusterIP := s.Spec.ClusterIP
	if s.Spec.Type == corev1.ServiceTypeExternalName {
		clusterIP = "<none>"
	}
	return []any{string(s.Spec.Type), orNone(clusterIP), externalIP(s), join(ports), Age(s.CreationTimestamp), join(sel)}
})

func externalIP(s *corev1.Service) string {
	switch s.Spec.Type {
	case corev1.ServiceTypeExternalName:
		return s.Spec.ExternalName
	case corev1.ServiceTypeLoadBalancer:
		var ips []string
		for _, in := range s.Status.LoadBalancer.Ingress {
			if in.IP != "" {
				ips = append(ips, in.IP)
			} else if in.Hostname != "" {
				ips = append(ips, in.Hostname)
			}
		}
		ips = append(ips, s.Spec.ExternalIPs...)
		if len(ips) == 0 {
			return "<pending>"
		}
		return strings.Join(ips, ",")
	}
	return join(s.Spec.ExternalIPs)
}

// Nodes: NAME STATUS ROLES AGE VERSION.
var Nodes = For([]Column{
	{Name: "Status", Description: "The status of the node"},
	{Name: "Roles", Description: "The roles of the node"},
	age,
	{Name: "Version", Description: "Kubelet Version reported by the node."},
	{Name: "Internal-IP", Wide: true}, {Name: "External-IP", Wide: true},
	{Name: "OS-Image", Wide: true}, {Name: "Kernel-Version", Wide: true}, {Name: "Container-Runtime", Wide: true},
}, func(n *corev1.Node) []any {
	status := "Unknown"
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			if c.Status == corev1.ConditionTrue {
				status = "Ready"
			} else {
				status = "NotReady"
			}
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	var roles []string
	for k := range n.Labels {
		if r, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && r != "" {
			roles = append(roles, r)
		}
	}
	if r := n.Labels["kubernetes.io/role"]; r != "" {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	addr := func(t corev1.NodeAddressType) string {
		for _, a := range n.Status.Addresses {
			if a.Type == t {
				return a.Address
			}
		}
		return "<none>"
	}
	ni := n.Status.NodeInfo
	return []any{status, join(roles), Age(n.CreationTimestamp), ni.KubeletVersion, addr(corev1.NodeInternalIP), addr(corev1.NodeExternalIP),
		orUnknown(ni.OSImage), orUnknown(ni.KernelVersion), orUnknown(ni.ContainerRuntimeVersion)}
})

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

// Namespaces: NAME STATUS AGE.
var Namespaces = For([]Column{
	{Name: "Status", Description: "The status of the namespace"},
	age,
}, func(n *corev1.Namespace) []any {
	return []any{string(n.Status.Phase), Age(n.CreationTimestamp)}
})

// Endpoints: NAME ENDPOINTS AGE.
var Endpoints = For([]Column{
	{Name: "Endpoints", Description: "Endpoints of the service"},
	age,
}, func(e *corev1.Endpoints) []any {
	var eps []string
	total := 0
	for _, ss := range e.Subsets {
		for _, a := range ss.Addresses {
			if len(ss.Ports) == 0 {
				total++
				eps = append(eps, a.IP)
				continue
			}
			for _, p := range ss.Ports {
				total++
				eps = append(eps, fmt.Sprintf("%s:%d", a.IP, p.Port))
			}
		}
	}
	s := join(eps)
	if len(eps) > 3 {
		s = strings.Join(eps[:3], ",") + fmt.Sprintf(" + %d more...", total-3)
	}
	return []any{s, Age(e.CreationTimestamp)}
})

// EndpointSlices: NAME ADDRESSTYPE PORTS ENDPOINTS AGE.
var EndpointSlices = For([]Column{
	{Name: "AddressType"}, {Name: "Ports"}, {Name: "Endpoints"}, age,
}, func(e *discoveryv1.EndpointSlice) []any {
	var ports, addrs []string
	for _, p := range e.Ports {
		if p.Port != nil {
			ports = append(ports, strconv.Itoa(int(*p.Port)))
		}
	}
	for _, ep := range e.Endpoints {
		addrs = append(addrs, ep.Addresses...)
	}
	a := join(addrs)
	if len(addrs) > 3 {
		a = strings.Join(addrs[:3], ",") + fmt.Sprintf(" + %d more...", len(addrs)-3)
	}
	return []any{string(e.AddressType), join(ports), a, Age(e.CreationTimestamp)}
})

// Events (v1): LAST SEEN TYPE REASON OBJECT MESSAGE. The name column is wide
// upstream, so this table does not use For's leading name column.
var Events rest.TableConvertor = &convertor[*corev1.Event]{
	noName: true,
	columns: []metav1.TableColumnDefinition{
		{Name: "Last Seen", Type: "string"}, {Name: "Type", Type: "string"}, {Name: "Reason", Type: "string"},
		{Name: "Object", Type: "string"}, {Name: "Subobject", Type: "string", Priority: 1},
		{Name: "Source", Type: "string", Priority: 1}, {Name: "Message", Type: "string"},
		{Name: "First Seen", Type: "string", Priority: 1}, {Name: "Count", Type: "string", Priority: 1},
		{Name: "Name", Type: "string", Priority: 1},
	},
	row: func(e *corev1.Event) []any {
		first, last := e.FirstTimestamp, e.LastTimestamp
		if last.IsZero() {
			last = metav1.Time{Time: e.EventTime.Time}
		}
		if first.IsZero() {
			first = metav1.Time{Time: e.EventTime.Time}
		}
		lastSeen := Age(last)
		if e.Series != nil {
			lastSeen = Age(metav1.Time{Time: e.Series.LastObservedTime.Time})
		}
		source := e.Source.Component
		if source == "" {
			source = e.ReportingController
		}
		if e.Source.Host != "" {
			source += ", " + e.Source.Host
		}
		obj := strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name
		count := e.Count
		if e.Series != nil {
			count = e.Series.Count
		}
		return []any{lastSeen, e.Type, e.Reason, obj, e.InvolvedObject.FieldPath, source, strings.TrimSpace(e.Message),
			Age(first), strconv.Itoa(int(count)), e.Name}
	},
}

// EventsV1 renders events.k8s.io/v1 events like v1 events.
var EventsV1 = For([]Column{
	{Name: "Type"}, {Name: "Reason"}, {Name: "Object"}, {Name: "Note"}, age,
}, func(e *eventsv1.Event) []any {
	return []any{e.Type, e.Reason, strings.ToLower(e.Regarding.Kind) + "/" + e.Regarding.Name, e.Note, Age(e.CreationTimestamp)}
})

// ConfigMaps: NAME DATA AGE.
var ConfigMaps = For([]Column{{Name: "Data", Type: integer}, age}, func(c *corev1.ConfigMap) []any {
	return []any{int64(len(c.Data) + len(c.BinaryData)), Age(c.CreationTimestamp)}
})

// Secrets: NAME TYPE DATA AGE.
var Secrets = For([]Column{{Name: "Type"}, {Name: "Data", Type: integer}, age}, func(s *corev1.Secret) []any {
	return []any{string(s.Type), int64(len(s.Data)), Age(s.CreationTimestamp)}
})

// ServiceAccounts: NAME SECRETS AGE.
var ServiceAccounts = For([]Column{{Name: "Secrets", Type: integer}, age}, func(s *corev1.ServiceAccount) []any {
	return []any{int64(len(s.Secrets)), Age(s.CreationTimestamp)}
})

// Leases: NAME HOLDER AGE.
var Leases = For([]Column{{Name: "Holder"}, age}, func(l *coordinationv1.Lease) []any {
	holder := ""
	if l.Spec.HolderIdentity != nil {
		holder = *l.Spec.HolderIdentity
	}
	return []any{holder, Age(l.CreationTimestamp)}
})

// ControllerRevisions: NAME CONTROLLER REVISION AGE.
var ControllerRevisions = For([]Column{{Name: "Controller"}, {Name: "Revision", Type: integer}, age}, func(c *appsv1.ControllerRevision) []any {
	ctrl := "<none>"
	if ref := metav1.GetControllerOf(c); ref != nil {
		gv := strings.Split(ref.APIVersion, "/")[0]
		ctrl = strings.ToLower(ref.Kind) + "." + gv + "/" + ref.Name
		if !strings.Contains(ref.APIVersion, "/") {
			ctrl = strings.ToLower(ref.Kind) + "/" + ref.Name
		}
	}
	return []any{ctrl, c.Revision, Age(c.CreationTimestamp)}
})
