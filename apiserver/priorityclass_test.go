package apiserver_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kubeseed/kubeseed/apiserver"
	"github.com/kubeseed/kubeseed/test/testenv"
)

// priorityPlanes are a kubeseed API server and an upstream kube-apiserver of
// the test's own, both with the admission plugins disabled turned off:
// PriorityClasses are cluster-wide and a global default changes every pod,
// so these tests do not share the suite's server.
func priorityPlanes(t *testing.T, disabled []string) map[string]controlPlane {
	t.Helper()
	s := startConfig(t, apiserver.Config{DataDir: t.TempDir(), SecurePort: freePort(t), DisableAdmissionPlugins: disabled})
	out := map[string]controlPlane{"kubeseed": {config: s.config, kubeconfig: s.kubeconfig}}
	if up, ok := upstreamPlane(t, func(env *envtest.Environment) {
		env.ControlPlane.GetAPIServer().Configure().Set("disable-admission-plugins", strings.Join(disabled, ","))
	}); ok {
		out["upstream"] = up
	}
	return out
}

// comparePlanes runs observe against each plane and requires kubeseed's
// observations to be upstream's, key by key.
func comparePlanes(t *testing.T, planes map[string]controlPlane, observe func(t *testing.T, cp controlPlane) map[string]string) {
	t.Helper()
	seen := map[string]map[string]string{}
	for _, name := range []string{"kubeseed", "upstream"} {
		cp, ok := planes[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) { seen[name] = observe(t, cp) })
	}
	up, ours := seen["upstream"], seen["kubeseed"]
	if up == nil || ours == nil {
		return
	}
	var keys []string
	for k := range up {
		keys = append(keys, k)
	}
	for k := range ours {
		if _, ok := up[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if up[k] != ours[k] {
			t.Errorf("%s differs from upstream:\nkubeseed: %s\nupstream: %s", k, ours[k], up[k])
		}
	}
}

func priorityClass(name string, value int32, mutate func(*schedulingv1.PriorityClass)) *schedulingv1.PriorityClass {
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: name}, Value: value}
	if mutate != nil {
		mutate(pc)
	}
	return pc
}

// describeClass renders what a client reads of a class.
func describeClass(pc *schedulingv1.PriorityClass, err error) string {
	if err != nil {
		return outcome(err)
	}
	policy := "<nil>"
	if pc.PreemptionPolicy != nil {
		policy = string(*pc.PreemptionPolicy)
	}
	return fmt.Sprintf("value=%d globalDefault=%t preemptionPolicy=%s generation=%d description=%q labels=%v",
		pc.Value, pc.GlobalDefault, policy, pc.Generation, pc.Description, pc.Labels)
}

// describePriority renders a pod's priority fields, or the error creating it.
func describePriority(p *corev1.Pod, err error) string {
	if err != nil {
		return outcome(err)
	}
	priority, policy := "<nil>", "<nil>"
	if p.Spec.Priority != nil {
		priority = fmt.Sprint(*p.Spec.Priority)
	}
	if p.Spec.PreemptionPolicy != nil {
		policy = string(*p.Spec.PreemptionPolicy)
	}
	return fmt.Sprintf("priorityClassName=%q priority=%s preemptionPolicy=%s", p.Spec.PriorityClassName, priority, policy)
}

// withoutAge drops the AGE column (the fourth) of `kubectl get pc` output
// and the padding, which follows the widest cell of each column.
func withoutAge(out string) string {
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 {
			f = append(f[:3:3], f[4:]...)
		}
		lines = append(lines, strings.Join(f, " "))
	}
	return strings.Join(lines, "\n")
}

const chartPriorityClass = `apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata:
  name: from-chart
  labels:
    app.kubernetes.io/managed-by: Helm
value: 10
preemptionPolicy: Never
description: "A chart's own class."
`

// TestPriorityClasses: scheduling.k8s.io/v1 PriorityClasses are served as
// kube-apiserver serves them (discovery, OpenAPI, defaulting, the system
// classes, validation and the Priority admission plugin's rules, tables and
// kubectl get pc), and the Priority admission plugin gives pods their
// class's priority and preemption policy, the global default's when they
// name none, and refuses what upstream refuses, with its codes and words.
// The bootstrap roles grant no one PriorityClasses, as upstream's.
func TestPriorityClasses(t *testing.T) {
	kubectlBin := kubectlAny(t)
	comparePlanes(t, priorityPlanes(t, testenv.EnvtestDisabledAdmissionPlugins), func(t *testing.T, cp controlPlane) map[string]string {
		ctx := ctxT(t)
		c := kubernetes.NewForConfigOrDie(cp.config)
		classes := c.SchedulingV1().PriorityClasses()
		seen := map[string]string{}
		step := func(key string, err error) { seen[key] = outcome(err) }

		// The group, its resource and its schema.
		groups, err := c.Discovery().ServerGroups()
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range groups.Groups {
			if g.Name == schedulingv1.GroupName {
				seen["group"] = fmt.Sprintf("versions=%v preferred=%s", g.Versions, g.PreferredVersion.GroupVersion)
			}
		}
		resources, err := c.Discovery().ServerResourcesForGroupVersion(schedulingv1.SchemeGroupVersion.String())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range resources.APIResources {
			verbs := slices.Sorted(slices.Values(r.Verbs))
			seen["discovery "+r.Name] = fmt.Sprintf("singular=%s namespaced=%t kind=%s verbs=%v shortNames=%v categories=%v hash=%s",
				r.SingularName, r.Namespaced, r.Kind, verbs, r.ShortNames, r.Categories, r.StorageVersionHash)
		}
		seen["kubectl api-resources"] = kubectl(t, kubectlBin, cp.kubeconfig, "", "api-resources", "--api-group=scheduling.k8s.io")
		seen["kubectl explain"] = kubectl(t, kubectlBin, cp.kubeconfig, "", "explain", "pc.preemptionPolicy")
		// A chart's class, applied as Helm or kubectl apply would.
		for i, args := range [][]string{{"apply", "-f", "-"}, {"apply", "-f", "-"}, {"apply", "--server-side", "--force-conflicts", "-f", "-"}} {
			seen[fmt.Sprintf("kubectl %d: %s", i, strings.Join(args, " "))] = kubectl(t, kubectlBin, cp.kubeconfig, chartPriorityClass, args...)
		}

		// The system classes exist from the start and cannot be deleted.
		for _, name := range []string{"system-node-critical", "system-cluster-critical"} {
			pc, err := classes.Get(ctx, name, metav1.GetOptions{})
			seen["system class "+name] = describeClass(pc, err)
			step("delete "+name, classes.Delete(ctx, name, metav1.DeleteOptions{}))
		}

		ns := "priorities"
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		pods := c.CoreV1().Pods(ns)
		createPod := func(key string, mutate func(*corev1.Pod)) {
			p := pod(strings.ReplaceAll(key, " ", "-"))
			if mutate != nil {
				mutate(p)
			}
			got, err := pods.Create(ctx, p, metav1.CreateOptions{})
			seen["pod "+key] = describePriority(got, err)
		}
		// Before any class is the global default: priority 0.
		createPod("no class no default", nil)

		created := func(pc *schedulingv1.PriorityClass) {
			got, err := classes.Create(ctx, pc, metav1.CreateOptions{})
			seen["create "+pc.Name] = describeClass(got, err)
		}
		created(priorityClass("high", 1000, func(pc *schedulingv1.PriorityClass) { pc.Description = "for the important" }))
		created(priorityClass("never", 50, func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = ptr.To(corev1.PreemptNever) }))
		created(priorityClass("max", 1000000000, nil))
		created(priorityClass("negative", -5, nil))

		// What validation refuses.
		for key, pc := range map[string]*schedulingv1.PriorityClass{
			"too high":                      priorityClass("too-high", 1000000001, nil),
			"unknown system name":           priorityClass("system-foo", 5, nil),
			"system name wrong value":       priorityClass("system-node-critical", 5, nil),
			"system name as global default": priorityClass("system-cluster-critical", 2000000000, func(pc *schedulingv1.PriorityClass) { pc.GlobalDefault = true }),
			"system value for user class":   priorityClass("impostor", 2000001000, nil),
			"bad policy": priorityClass("bad-policy", 1, func(pc *schedulingv1.PriorityClass) {
				pc.PreemptionPolicy = ptr.To(corev1.PreemptionPolicy("Sometimes"))
			}),
			"empty policy": priorityClass("empty-policy", 1, func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = ptr.To(corev1.PreemptionPolicy("")) }),
			"bad name":     priorityClass("Bad_Name", 1, nil),
		} {
			_, err := classes.Create(ctx, pc, metav1.CreateOptions{})
			step("invalid class: "+key, err)
		}

		// One global default at a time.
		created(priorityClass("default-a", 100, func(pc *schedulingv1.PriorityClass) { pc.GlobalDefault = true }))
		// The plugin reads classes from its cache: wait until it has them
		// all (upstream may refuse a pod naming a class created a moment
		// before).
		waitFor(t, 10*time.Second, "the admission cache to hold the classes", func() error {
			p := pod("probe")
			got, err := pods.Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			if err != nil {
				return err
			}
			if got.Spec.Priority == nil || *got.Spec.Priority != 100 {
				return fmt.Errorf("default priority not applied yet: %s", describePriority(got, nil))
			}
			p = pod("probe")
			p.Spec.PriorityClassName = "never"
			_, err = pods.Create(ctx, p, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			return err
		})
		_, err = classes.Create(ctx, priorityClass("default-b", 200, func(pc *schedulingv1.PriorityClass) { pc.GlobalDefault = true }), metav1.CreateOptions{})
		step("second global default", err)
		update := func(key, name string, mutate func(*schedulingv1.PriorityClass)) {
			pc, err := classes.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			mutate(pc)
			got, err := classes.Update(ctx, pc, metav1.UpdateOptions{})
			seen["update "+key] = describeClass(got, err)
		}
		update("high to global default", "high", func(pc *schedulingv1.PriorityClass) { pc.GlobalDefault = true })
		update("default-a description", "default-a", func(pc *schedulingv1.PriorityClass) { pc.Description = "the default" })
		update("high value", "high", func(pc *schedulingv1.PriorityClass) { pc.Value = 2000 })
		update("never policy", "never", func(pc *schedulingv1.PriorityClass) { pc.PreemptionPolicy = ptr.To(corev1.PreemptLowerPriority) })
		update("system class description", "system-node-critical", func(pc *schedulingv1.PriorityClass) {
			pc.Description, pc.Labels = "changed", map[string]string{"touched": "yes"}
		})
		update("system class to global default", "system-cluster-critical", func(pc *schedulingv1.PriorityClass) { pc.GlobalDefault = true })
		step("delete negative", classes.Delete(ctx, "negative", metav1.DeleteOptions{}))

		list, err := classes.List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, pc := range list.Items {
			names = append(names, pc.Name)
		}
		seen["list"] = strings.Join(names, " ")

		// The server-side table kubectl prints.
		raw, err := c.SchedulingV1().RESTClient().Get().Resource("priorityclasses").
			SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var table metav1.Table
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&table); err != nil {
			t.Fatal(err)
		}
		for i, col := range table.ColumnDefinitions {
			seen[fmt.Sprintf("table column %d", i)] = fmt.Sprintf("%s type=%s format=%s priority=%d description=%q", col.Name, col.Type, col.Format, col.Priority, col.Description)
		}
		for _, row := range table.Rows {
			cells := slices.Clone(row.Cells)
			if len(cells) > 3 {
				cells[3] = "<age>"
			}
			seen[fmt.Sprintf("table row %v", cells[0])] = fmt.Sprintf("%v", cells)
		}
		out := kubectl(t, kubectlBin, cp.kubeconfig, "", "get", "pc")
		assertTable(t, out, "NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY")
		seen["kubectl get pc"] = withoutAge(out)
		seen["kubectl get pc -o wide"] = withoutAge(kubectl(t, kubectlBin, cp.kubeconfig, "", "get", "priorityclass", "high", "-o", "wide"))

		// Pods get their class's priority.
		createPod("high", func(p *corev1.Pod) { p.Spec.PriorityClassName = "high" })
		createPod("never", func(p *corev1.Pod) { p.Spec.PriorityClassName = "never" })
		createPod("chart class", func(p *corev1.Pod) { p.Spec.PriorityClassName = "from-chart" })
		createPod("missing class", func(p *corev1.Pod) { p.Spec.PriorityClassName = "nope" })
		createPod("invalid class name", func(p *corev1.Pod) { p.Spec.PriorityClassName = "Bad_Name" })
		createPod("global default", nil)
		createPod("node critical", func(p *corev1.Pod) { p.Spec.PriorityClassName = "system-node-critical" })
		createPod("cluster critical", func(p *corev1.Pod) { p.Spec.PriorityClassName = "system-cluster-critical" })
		createPod("wrong priority", func(p *corev1.Pod) { p.Spec.PriorityClassName, p.Spec.Priority = "high", ptr.To[int32](5) })
		createPod("right priority", func(p *corev1.Pod) { p.Spec.PriorityClassName, p.Spec.Priority = "high", ptr.To[int32](1000) })
		createPod("priority without class", func(p *corev1.Pod) { p.Spec.Priority = ptr.To[int32](7) })
		createPod("default priority without class", func(p *corev1.Pod) { p.Spec.Priority = ptr.To[int32](100) })
		createPod("wrong policy", func(p *corev1.Pod) {
			p.Spec.PriorityClassName, p.Spec.PreemptionPolicy = "high", ptr.To(corev1.PreemptNever)
		})
		createPod("right policy", func(p *corev1.Pod) {
			p.Spec.PriorityClassName, p.Spec.PreemptionPolicy = "never", ptr.To(corev1.PreemptNever)
		})
		// An update that leaves the fields out keeps them.
		p, err := pods.Get(ctx, "high", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Spec.Priority, p.Spec.PreemptionPolicy = nil, nil
		p.Labels["updated"] = "yes"
		got, err := pods.Update(ctx, p, metav1.UpdateOptions{})
		seen["update pod without priority"] = describePriority(got, err)
		p, err = pods.Get(ctx, "never", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p.Spec.Priority = ptr.To[int32](51)
		_, err = pods.Update(ctx, p, metav1.UpdateOptions{})
		step("update pod priority", err)

		// No bootstrap role grants PriorityClasses (the aggregated roles'
		// parts, since no controller aggregates them here).
		users, sar := bindAggregatedRoles(t, ctx, c, ns, "pc")
		for _, role := range aggregatedRoles {
			user := users[role]
			for _, verb := range []string{"get", "list", "create", "delete"} {
				ok, err := sar(user, authorizationv1.ResourceAttributes{Verb: verb, Group: schedulingv1.GroupName, Resource: "priorityclasses"})
				seen[fmt.Sprintf("rbac %s %s priorityclasses", role, verb)] = fmt.Sprint(ok, err)
			}
		}

		// What upstream answers, checked on each plane so a run without
		// upstream binaries still tests the essentials.
		expectSeen(t, seen, map[string]string{
			"system class system-node-critical": `value=2000001000 globalDefault=false preemptionPolicy=PreemptLowerPriority generation=1 description="Used for system critical pods that must not be moved from their current node." labels=map[]`,
			"pod no class no default":           `priorityClassName="" priority=0 preemptionPolicy=PreemptLowerPriority`,
			"pod high":                          `priorityClassName="high" priority=1000 preemptionPolicy=PreemptLowerPriority`,
			"pod never":                         `priorityClassName="never" priority=50 preemptionPolicy=Never`,
			"pod chart class":                   `priorityClassName="from-chart" priority=10 preemptionPolicy=Never`,
			"pod global default":                `priorityClassName="default-a" priority=100 preemptionPolicy=PreemptLowerPriority`,
			"pod missing class":                 `403 Forbidden "pods \"missing-class\" is forbidden: no PriorityClass with name nope was found"`,
			"second global default":             `403 Forbidden "priorityclasses.scheduling.k8s.io \"default-b\" is forbidden: PriorityClass default-a is already marked as default. Only one default can exist"`,
			"update pod without priority":       `priorityClassName="high" priority=1000 preemptionPolicy=PreemptLowerPriority`,
			"kubectl 0: apply -f -":             "priorityclass.scheduling.k8s.io/from-chart created\n",
			"kubectl 1: apply -f -":             "priorityclass.scheduling.k8s.io/from-chart unchanged\n",
			"kubectl 2: apply --server-side --force-conflicts -f -": "priorityclass.scheduling.k8s.io/from-chart serverside-applied\n",
		})
		return seen
	})
}

// expectSeen fails t for each key of want whose observation differs.
func expectSeen(t *testing.T, seen, want map[string]string) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if seen[k] != want[k] {
			t.Errorf("%s:\ngot  %s\nwant %s", k, seen[k], want[k])
		}
	}
}

// TestPriorityAdmissionDisabled: with the Priority admission plugin off
// (--disable-admission-plugins=Priority on both servers), pods keep the
// priority fields they were sent whatever class they name, and nothing stops
// a second global default; validation still applies.
func TestPriorityAdmissionDisabled(t *testing.T) {
	disabled := append(slices.Clone(testenv.EnvtestDisabledAdmissionPlugins), "Priority")
	comparePlanes(t, priorityPlanes(t, disabled), func(t *testing.T, cp controlPlane) map[string]string {
		ctx := ctxT(t)
		c := kubernetes.NewForConfigOrDie(cp.config)
		classes := c.SchedulingV1().PriorityClasses()
		seen := map[string]string{}
		for _, pc := range []*schedulingv1.PriorityClass{
			priorityClass("default-a", 100, func(pc *schedulingv1.PriorityClass) { pc.GlobalDefault = true }),
			priorityClass("default-b", 200, func(pc *schedulingv1.PriorityClass) { pc.GlobalDefault = true }),
			priorityClass("too-high", 1000000001, nil),
		} {
			got, err := classes.Create(ctx, pc, metav1.CreateOptions{})
			seen["create "+pc.Name] = describeClass(got, err)
		}
		_, err := classes.Get(ctx, "system-node-critical", metav1.GetOptions{})
		seen["system class"] = outcome(err)

		ns := "no-priorities"
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		// Let a cache that would wrongly apply the default catch up first.
		time.Sleep(time.Second)
		for key, mutate := range map[string]func(*corev1.Pod){
			"no class":                 nil,
			"missing class":            func(p *corev1.Pod) { p.Spec.PriorityClassName = "nope" },
			"existing class":           func(p *corev1.Pod) { p.Spec.PriorityClassName = "default-b" },
			"own priority":             func(p *corev1.Pod) { p.Spec.Priority = ptr.To[int32](7) },
			"own policy":               func(p *corev1.Pod) { p.Spec.PreemptionPolicy = ptr.To(corev1.PreemptNever) },
			"invalid class name":       func(p *corev1.Pod) { p.Spec.PriorityClassName = "Bad_Name" },
			"invalid policy":           func(p *corev1.Pod) { p.Spec.PreemptionPolicy = ptr.To(corev1.PreemptionPolicy("Sometimes")) },
			"empty policy":             func(p *corev1.Pod) { p.Spec.PreemptionPolicy = ptr.To(corev1.PreemptionPolicy("")) },
			"class and wrong priority": func(p *corev1.Pod) { p.Spec.PriorityClassName, p.Spec.Priority = "default-a", ptr.To[int32](1) },
		} {
			p := pod(strings.ReplaceAll(key, " ", "-"))
			if mutate != nil {
				mutate(p)
			}
			got, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
			seen["pod "+key] = describePriority(got, err)
			if err != nil && !apierrors.IsInvalid(err) {
				t.Errorf("pod %s: %v", key, err)
			}
		}
		expectSeen(t, seen, map[string]string{
			"create default-b":  `value=200 globalDefault=true preemptionPolicy=PreemptLowerPriority generation=1 description="" labels=map[]`,
			"pod no class":      `priorityClassName="" priority=<nil> preemptionPolicy=<nil>`,
			"pod missing class": `priorityClassName="nope" priority=<nil> preemptionPolicy=<nil>`,
			"pod own priority":  `priorityClassName="" priority=7 preemptionPolicy=<nil>`,
		})
		return seen
	})
}
