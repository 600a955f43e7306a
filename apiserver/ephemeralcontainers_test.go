package apiserver_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// outcome renders a request's error as a client sees it: code, reason,
// message and each cause (type, field, message). Messages that end in
// upstream's diff of its internal pod spec (which has another shape than
// v1's) keep their first line only.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		return "error: " + err.Error()
	}
	s := status.Status()
	out := fmt.Sprintf("%d %s %q", s.Code, s.Reason, firstLineIfSpecDiff(s.Message))
	if s.Details != nil {
		for _, c := range s.Details.Causes {
			out += fmt.Sprintf("\n  %s %s %q", c.Type, c.Field, firstLineIfSpecDiff(c.Message))
		}
	}
	return out
}

func firstLineIfSpecDiff(msg string) string {
	if i := strings.Index(msg, "pod updates may not change fields other than"); i >= 0 {
		if j := strings.Index(msg[i:], "\n"); j >= 0 {
			return msg[:i+j] + "\n(diff)"
		}
	}
	return msg
}

// outcomes records what each control plane answered, by step, so a test can
// compare kubeseed's answers with upstream's once both have run.
type outcomes struct {
	mu   sync.Mutex
	seen map[string]map[string]string // step -> plane -> outcome
	keys []string
}

func (o *outcomes) record(plane, step, got string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.seen == nil {
		o.seen = map[string]map[string]string{}
	}
	if o.seen[step] == nil {
		o.seen[step] = map[string]string{}
		o.keys = append(o.keys, step)
	}
	o.seen[step][plane] = got
}

// compare fails t for every step the planes answered differently.
func (o *outcomes) compare(t *testing.T) {
	t.Helper()
	for _, step := range o.keys {
		by := o.seen[step]
		if up, ok := by["upstream"]; ok && by["kubeseed"] != up {
			t.Errorf("%s:\nkubeseed: %s\nupstream: %s", step, by["kubeseed"], up)
		}
	}
}

// debugTarget is the pod ephemeral containers are added to: one container to
// target, one init container and a volume to mount.
func debugTarget(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers:     []corev1.Container{{Name: "app", Image: "busybox"}},
			Volumes:        []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

func ephemeral(name string) corev1.EphemeralContainer {
	return corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: "busybox", Stdin: true, TTY: true}}
}

// TestEphemeralContainers: pods/ephemeralcontainers (kubectl debug) adds
// containers to a pod through every kind of patch and update, changing
// nothing else, and refuses what kube-apiserver refuses with its codes,
// causes and messages; a pod is never created with them, a plain update
// never changes them, and static pods get none.
func TestEphemeralContainers(t *testing.T) {
	var seen outcomes
	bin := ""
	for _, b := range kubectls(t) {
		bin = b
		break
	}
	for name, cp := range controlPlanes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			c := kubernetes.NewForConfigOrDie(cp.config)
			const ns = "debugging"
			if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			pods := c.CoreV1().Pods(ns)
			step := func(what string, err error) string {
				got := outcome(err)
				seen.record(name, what, got)
				return got
			}
			expect := func(what string, err error, want string) {
				t.Helper()
				if got := step(what, err); got != want {
					t.Errorf("%s:\ngot  %s\nwant %s", what, got, want)
				}
			}

			created, err := pods.Create(ctx, debugTarget("app"), metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}

			// Discovery lists the subresource as upstream does.
			resources, err := c.Discovery().ServerResourcesForGroupVersion("v1")
			if err != nil {
				t.Fatal(err)
			}
			var sub *metav1.APIResource
			for i := range resources.APIResources {
				if resources.APIResources[i].Name == "pods/ephemeralcontainers" {
					sub = &resources.APIResources[i]
				}
			}
			if sub == nil || sub.Kind != "Pod" || !sub.Namespaced || !slices.Equal(sub.Verbs, []string{"get", "patch", "update"}) {
				t.Errorf("discovery of pods/ephemeralcontainers: %+v", sub)
			}

			// A strategic merge patch, as kubectl debug sends, adds one and
			// changes nothing else it carries (labels, the deadline).
			patch := `{"metadata":{"labels":{"sneaky":"yes"}},"spec":{"activeDeadlineSeconds":60,` +
				`"ephemeralContainers":[{"name":"debugger","image":"busybox","stdin":true,"tty":true,"targetContainerName":"app"}]}}`
			got, err := pods.Patch(ctx, "app", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}, "ephemeralcontainers")
			expect("strategic merge patch", err, "ok")
			if err != nil {
				t.FailNow()
			}
			want := ephemeral("debugger")
			want.TargetContainerName = "app"
			want.ImagePullPolicy, want.TerminationMessagePath, want.TerminationMessagePolicy = corev1.PullAlways, corev1.TerminationMessagePathDefault, corev1.TerminationMessageReadFile
			if len(got.Spec.EphemeralContainers) != 1 || !apiequality.Semantic.DeepEqual(got.Spec.EphemeralContainers[0], want) {
				t.Errorf("ephemeral containers after the patch:\n%s\nwant\n%s", toJSON(got.Spec.EphemeralContainers), toJSON(want))
			}
			stored, err := pods.Get(ctx, "app", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			rest := stored.Spec.DeepCopy()
			rest.EphemeralContainers = nil
			if !apiequality.Semantic.DeepEqual(*rest, created.Spec) || !apiequality.Semantic.DeepEqual(stored.Labels, created.Labels) ||
				!apiequality.Semantic.DeepEqual(stored.Status, created.Status) {
				t.Errorf("the patch changed more than ephemeral containers:\nspec %s\nlabels %v\nstatus %s", toJSON(stored.Spec), stored.Labels, toJSON(stored.Status))
			}
			step("generation after adding one", errors.New(fmt.Sprint(stored.Generation)))
			if stored.Generation != created.Generation+1 {
				t.Errorf("generation %d after adding one to %d", stored.Generation, created.Generation)
			}

			// GET on the subresource is the pod.
			var viaSub corev1.Pod
			if err := c.CoreV1().RESTClient().Get().Namespace(ns).Resource("pods").Name("app").SubResource("ephemeralcontainers").Do(ctx).Into(&viaSub); err != nil {
				t.Fatal(err)
			}
			if viaSub.UID != stored.UID || len(viaSub.Spec.EphemeralContainers) != 1 {
				t.Errorf("get pods/ephemeralcontainers: %s", toJSON(viaSub))
			}

			// client-go's UpdateEphemeralContainers (a PUT) adds another.
			stored.Spec.EphemeralContainers = append(stored.Spec.EphemeralContainers, ephemeral("second"))
			stored, err = pods.UpdateEphemeralContainers(ctx, "app", stored, metav1.UpdateOptions{})
			expect("update", err, "ok")
			if err != nil {
				t.FailNow()
			}
			// A JSON patch, a JSON merge patch (the whole list) and an apply.
			_, err = pods.Patch(ctx, "app", types.JSONPatchType,
				[]byte(`[{"op":"add","path":"/spec/ephemeralContainers/-","value":{"name":"jsonpatch","image":"busybox"}}]`), metav1.PatchOptions{}, "ephemeralcontainers")
			expect("json patch", err, "ok")
			list := []string{}
			for _, n := range []string{"debugger", "second", "jsonpatch", "merge"} {
				list = append(list, fmt.Sprintf(`{"name":%q,"image":"busybox"%s}`, n, map[bool]string{true: `,"stdin":true,"tty":true`, false: ""}[n == "second"]))
			}
			list[0] = `{"name":"debugger","image":"busybox","stdin":true,"tty":true,"targetContainerName":"app"}`
			_, err = pods.Patch(ctx, "app", types.MergePatchType, []byte(`{"spec":{"ephemeralContainers":[`+strings.Join(list, ",")+`]}}`), metav1.PatchOptions{}, "ephemeralcontainers")
			expect("json merge patch", err, "ok")
			_, err = pods.Patch(ctx, "app", types.ApplyPatchType,
				[]byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"app"},"spec":{"ephemeralContainers":[{"name":"applied","image":"busybox"}]}}`),
				metav1.PatchOptions{FieldManager: "debugger", Force: ptr.To(true)}, "ephemeralcontainers")
			expect("apply", err, "ok")
			stored, err = pods.Get(ctx, "app", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, ec := range stored.Spec.EphemeralContainers {
				names = append(names, ec.Name)
			}
			step("names after every kind of patch", errors.New(strings.Join(names, ",")))
			if !slices.Equal(names, []string{"debugger", "second", "jsonpatch", "merge", "applied"}) {
				t.Errorf("ephemeral containers %v", names)
			}

			// What is refused, and how.
			update := func(edit func(*corev1.Pod)) error {
				p, err := pods.Get(ctx, "app", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				edit(p)
				_, err = pods.UpdateEphemeralContainers(ctx, "app", p, metav1.UpdateOptions{})
				return err
			}
			add := func(ec corev1.EphemeralContainer) error {
				return update(func(p *corev1.Pod) { p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, ec) })
			}
			expect("remove", update(func(p *corev1.Pod) { p.Spec.EphemeralContainers = p.Spec.EphemeralContainers[1:] }),
				`422 Invalid "Pod \"app\" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers \"debugger\" may not be removed\n"`+
					"\n  FieldValueForbidden spec.ephemeralContainers \"Forbidden: existing ephemeral containers \\\"debugger\\\" may not be removed\\n\"")
			expect("change", update(func(p *corev1.Pod) { p.Spec.EphemeralContainers[1].Image = "busybox:1.36" }),
				`422 Invalid "Pod \"app\" is invalid: spec.ephemeralContainers: Forbidden: existing ephemeral containers \"second\" may not be changed\n`+
					`@@ -1,6 +1,6 @@\n {\n  \"Name\": \"second\",\n- \"Image\": \"busybox\",\n+ \"Image\": \"busybox:1.36\",\n  \"Command\": null,\n  \"Args\": null,\n  \"WorkingDir\": \"\",\n"`+
					"\n  FieldValueForbidden spec.ephemeralContainers \"Forbidden: existing ephemeral containers \\\"second\\\" may not be changed\\n"+
					`@@ -1,6 +1,6 @@\n {\n  \"Name\": \"second\",\n- \"Image\": \"busybox\",\n+ \"Image\": \"busybox:1.36\",\n  \"Command\": null,\n  \"Args\": null,\n  \"WorkingDir\": \"\",\n"`)
			expect("same name as a container", add(ephemeral("app")),
				`422 Invalid "Pod \"app\" is invalid: spec.ephemeralContainers[5].name: Duplicate value: \"app\""`+
					"\n  FieldValueDuplicate spec.ephemeralContainers[5].name \"Duplicate value: \\\"app\\\"\"")
			expect("same name as an init container", add(ephemeral("init")),
				`422 Invalid "Pod \"app\" is invalid: spec.ephemeralContainers[5].name: Duplicate value: \"init\""`+
					"\n  FieldValueDuplicate spec.ephemeralContainers[5].name \"Duplicate value: \\\"init\\\"\"")
			withPorts := ephemeral("ports")
			withPorts.Ports = []corev1.ContainerPort{{ContainerPort: 8080}}
			expect("ports", add(withPorts),
				`422 Invalid "Pod \"app\" is invalid: spec.ephemeralContainers[5].ports: Forbidden: cannot be set for an Ephemeral Container"`+
					"\n  FieldValueForbidden spec.ephemeralContainers[5].ports \"Forbidden: cannot be set for an Ephemeral Container\"")
			withProbes := ephemeral("probes")
			withProbes.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
			withProbes.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"true"}}}}
			withProbes.RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
			expect("probes, lifecycle and restartPolicy", add(withProbes),
				`422 Invalid "Pod \"app\" is invalid: [spec.ephemeralContainers[5].restartPolicy: Forbidden: cannot be set for an Ephemeral Container, `+
					`spec.ephemeralContainers[5].readinessProbe: Forbidden: cannot be set for an Ephemeral Container, `+
					`spec.ephemeralContainers[5].lifecycle: Forbidden: cannot be set for an Ephemeral Container]"`+
					"\n  FieldValueForbidden spec.ephemeralContainers[5].restartPolicy \"Forbidden: cannot be set for an Ephemeral Container\""+
					"\n  FieldValueForbidden spec.ephemeralContainers[5].readinessProbe \"Forbidden: cannot be set for an Ephemeral Container\""+
					"\n  FieldValueForbidden spec.ephemeralContainers[5].lifecycle \"Forbidden: cannot be set for an Ephemeral Container\"")
			badTarget := ephemeral("target")
			badTarget.TargetContainerName = "debugger"
			expect("target an ephemeral container", add(badTarget),
				`422 Invalid "Pod \"app\" is invalid: spec.ephemeralContainers[5].targetContainerName: Not found: \"debugger\""`+
					"\n  FieldValueNotFound spec.ephemeralContainers[5].targetContainerName \"Not found: \\\"debugger\\\"\"")
			mounts := ephemeral("mounts")
			mounts.VolumeMounts = []corev1.VolumeMount{{Name: "nope", MountPath: "/nope"}, {Name: "data", MountPath: "/data", SubPath: "x"}}
			step("volume mounts", add(mounts))
			noImage := ephemeral("Bad_Name")
			noImage.Image, noImage.ImagePullPolicy = "", "Sometimes"
			step("bad name, no image, bad pull policy", add(noImage))
			// A strategic merge patch cannot remove one: the list merges.
			_, err = pods.Patch(ctx, "app", types.StrategicMergePatchType, []byte(`{"spec":{"ephemeralContainers":[{"name":"second","image":"busybox:2"}]}}`),
				metav1.PatchOptions{}, "ephemeralcontainers")
			step("strategic merge patch changing one", err)
			if !apierrors.IsInvalid(err) {
				t.Errorf("changing one by patch: %v, want 422", err)
			}

			// No pod, no subresource: it never creates one.
			_, err = pods.Patch(ctx, "nobody", types.StrategicMergePatchType, []byte(`{"spec":{"ephemeralContainers":[{"name":"d","image":"busybox"}]}}`),
				metav1.PatchOptions{}, "ephemeralcontainers")
			expect("patch of a missing pod", err, `404 NotFound "pods \"nobody\" not found"`)
			missing := debugTarget("nobody")
			missing.Spec.EphemeralContainers = []corev1.EphemeralContainer{ephemeral("d")}
			_, err = pods.UpdateEphemeralContainers(ctx, "nobody", missing, metav1.UpdateOptions{})
			expect("update of a missing pod", err, `404 NotFound "pods \"nobody\" not found"`)

			// A pod is created without them, and a plain update never changes them.
			withOne := debugTarget("born-with-one")
			withOne.Spec.EphemeralContainers = []corev1.EphemeralContainer{ephemeral("debugger")}
			_, err = pods.Create(ctx, withOne, metav1.CreateOptions{})
			expect("create with one", err, `422 Invalid "Pod \"born-with-one\" is invalid: spec.ephemeralContainers: Forbidden: cannot be set on create"`+
				"\n  FieldValueForbidden spec.ephemeralContainers \"Forbidden: cannot be set on create\"")
			withOne.Spec.EphemeralContainers[0].Name = "app"
			_, err = pods.Create(ctx, withOne, metav1.CreateOptions{})
			step("create with an invalid one", err)
			p, err := pods.Get(ctx, "app", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, ephemeral("plain"))
			_, err = pods.Update(ctx, p, metav1.UpdateOptions{})
			step("plain update adding one", err)
			if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec: Forbidden: pod updates may not change fields other than") {
				t.Errorf("plain update adding one: %v", err)
			}
			p.Spec.EphemeralContainers = p.Spec.EphemeralContainers[:1]
			_, err = pods.Update(ctx, p, metav1.UpdateOptions{})
			step("plain update removing some", err)

			// Static pods' mirrors get none.
			mirror := debugTarget("mirror")
			mirror.Annotations = map[string]string{corev1.MirrorPodAnnotationKey: "hash"}
			mirror.Spec.NodeName = "node-a"
			if _, err := pods.Create(ctx, mirror, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			_, err = pods.Patch(ctx, "mirror", types.StrategicMergePatchType, []byte(`{"spec":{"ephemeralContainers":[{"name":"d","image":"busybox","ports":[{"containerPort":1}]}]}}`),
				metav1.PatchOptions{}, "ephemeralcontainers")
			expect("mirror pod", err, `422 Invalid "Pod \"mirror\" is invalid: []: Forbidden: static pods do not support ephemeral containers"`+
				"\n  FieldValueForbidden [] \"Forbidden: static pods do not support ephemeral containers\"")

			// Stock kubectl debug (without -i it adds the container and returns).
			if bin != "" {
				kubectl(t, bin, cp.kubeconfig, "", "debug", "-n", ns, "app", "--image=busybox", "--target=app", "--container=kdebug")
				p, err := pods.Get(ctx, "app", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				last := p.Spec.EphemeralContainers[len(p.Spec.EphemeralContainers)-1]
				step("kubectl debug", errors.New(toJSON(last)))
				if last.Name != "kdebug" || last.TargetContainerName != "app" || last.Image != "busybox" {
					t.Errorf("kubectl debug added %s", toJSON(last))
				}
			}

			// Neither server's default roles grant the subresource: a
			// namespace admin is given it on purpose.
			for _, role := range []string{"system:aggregate-to-admin", "system:aggregate-to-edit", "system:aggregate-to-view"} {
				r, err := c.RbacV1().ClusterRoles().Get(context.Background(), role, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				grants := false
				for _, rule := range r.Rules {
					grants = grants || slices.Contains(rule.Resources, "pods/ephemeralcontainers") || slices.Contains(rule.Resources, "*")
				}
				step("role "+role+" grants it", errors.New(fmt.Sprint(grants)))
				if grants {
					t.Errorf("%s grants pods/ephemeralcontainers", role)
				}
			}
		})
	}
	seen.compare(t)
}

// TestEphemeralContainersServiceAccount: with the ServiceAccount admission
// plugin on, ephemeral containers of a pod whose service account limits its
// pods' secrets may only reference those secrets, refused as upstream
// refuses them.
func TestEphemeralContainersServiceAccount(t *testing.T) {
	var seen outcomes
	for name, cp := range admittingPlanes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := ctxT(t)
			c := kubernetes.NewForConfigOrDie(cp.config)
			const ns = "debugging-sa"
			if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{
				ObjectMeta: metav1.ObjectMeta{Name: "strict", Annotations: map[string]string{"kubernetes.io/enforce-mountable-secrets": "true"}},
				Secrets:    []corev1.ObjectReference{{Name: "allowed"}},
			}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			p := debugTarget("app")
			p.Spec.ServiceAccountName = "strict"
			if _, err := c.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			add := func(what, secret string, env bool) string {
				ec := ephemeral(what)
				if env {
					ec.Env = []corev1.EnvVar{{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{
						SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: "password"}}}}
				} else {
					ec.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: secret}}}}
				}
				pod, err := c.CoreV1().Pods(ns).Get(ctx, "app", metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				pod.Spec.EphemeralContainers = append(pod.Spec.EphemeralContainers, ec)
				_, err = c.CoreV1().Pods(ns).UpdateEphemeralContainers(ctx, "app", pod, metav1.UpdateOptions{})
				got := outcome(err)
				seen.record(name, what, got)
				return got
			}
			if got := add("allowed", "allowed", false); got != "ok" {
				t.Errorf("an ephemeral container using an allowed secret: %s", got)
			}
			// Refused, though not as a 403: kube-apiserver's plugin returns
			// this refusal as a plain error, which clients get as a 500.
			if got, want := add("env", "other", true), `500  "ephemeral container env with envVar PASSWORD referencing secret.secretName=\"other\" `+
				`is not allowed because service account strict does not reference that secret"`; got != want {
				t.Errorf("an ephemeral container using a secret its account does not list:\ngot  %s\nwant %s", got, want)
			}
			if got, want := add("envfrom", "other", false), `500  "ephemeral container envfrom with envFrom referencing secret.secretName=\"other\" `+
				`is not allowed because service account strict does not reference that secret"`; got != want {
				t.Errorf("an ephemeral container using a secret its account does not list:\ngot  %s\nwant %s", got, want)
			}
		})
	}
	seen.compare(t)
}
