package kubelet_test

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/kubeseed/kubeseed/kubelet/logs"
)

// readLog reads a container's log file as `kubectl logs` shows it.
func readLog(path string) (string, error) {
	var b strings.Builder
	err := logs.ReadLogs(context.Background(), path, logs.Options{}, &b, &b)
	return b.String(), err
}

// podLogs is `kubectl logs` of a pod's only container through the API
// server.
func podLogs(ns, name string, opts corev1.PodLogOptions) (string, error) {
	b, err := client.CoreV1().Pods(ns).GetLogs(name, &opts).DoRaw(context.Background())
	return string(b), err
}

// tickerPod prints "<prefix> N" every period, to stdout, and with
// stderr "err N" to stderr too.
func tickerPod(ns, name, node, prefix, period string, stderr bool) *corev1.Pod {
	script := `trap "exit 0" TERM; i=0; while true; do echo "` + prefix + ` $i"; `
	if stderr {
		script += `echo "err $i" >&2; `
	}
	script += `i=$((i+1)); sleep ` + period + `; done`
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: corev1.PodSpec{
		NodeName: node, TerminationGracePeriodSeconds: ptr.To[int64](2),
		Containers: []corev1.Container{{Name: "c", Image: "busybox", Command: []string{"sh", "-c", script}}},
	}}
}

// stampedLine is one line of `kubectl logs --timestamps`.
type stampedLine struct {
	time time.Time
	text string
}

// parseStamped parses the output of `kubectl logs --timestamps`, checking
// each line has upstream's fixed-width RFC 3339 time in front.
func parseStamped(t *testing.T, out string) []stampedLine {
	t.Helper()
	var lines []stampedLine
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		ts, text, ok := strings.Cut(sc.Text(), " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil || len(ts) != len("2006-01-02T15:04:05.000000000Z") {
			t.Fatalf("line %q has no RFC3339Nano time in front (%v)", sc.Text(), err)
		}
		lines = append(lines, stampedLine{tm, text})
	}
	return lines
}

// numbers returns the N of the lines "<prefix> N", checking they count up
// by one: no line lost, none twice.
func numbers(t *testing.T, lines []string, prefix string) []int {
	t.Helper()
	var ns []int
	for _, l := range lines {
		if s, ok := strings.CutPrefix(l, prefix+" "); ok {
			n, err := strconv.Atoi(s)
			if err != nil {
				t.Fatalf("line %q", l)
			}
			if len(ns) > 0 && n != ns[len(ns)-1]+1 {
				t.Fatalf("%q lines go from %d to %d: %q", prefix, ns[len(ns)-1], n, lines)
			}
			ns = append(ns, n)
		}
	}
	return ns
}

func textOf(lines []stampedLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, l.text)
	}
	return out
}

func TestContainerLogs(t *testing.T) {
	cfg := rootAgentConfig(t, "logs-node", "kstkubelet7", "10.244.244.0/24")
	ns := "logs"
	createNamespace(t, ns)
	h := startAgent(t, cfg)
	defer h.stop(t)
	defer deleteAllPods(t, ns, cfg.RootDir)
	ctx := context.Background()
	if _, err := client.CoreV1().Pods(ns).Create(ctx, tickerPod(ns, "ticker", "logs-node", "out", "0.3", true), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	exact := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "exact"}, Spec: corev1.PodSpec{
		NodeName: "logs-node", RestartPolicy: corev1.RestartPolicyNever,
		Containers: []corev1.Container{
			// A line longer than a record, an empty one, one on stderr, a
			// last one without newline (the streams are read apart: the
			// sleeps keep their order).
			{Name: "plain", Image: "busybox", Command: []string{"sh", "-c",
				`head -c 40000 /dev/zero | tr '\0' x; echo; echo; sleep 0.2; echo to stderr >&2; sleep 0.2; printf "no newline"`}},
			// A terminal's "\r\n" reads as "\n", as on upstream.
			{Name: "tty", Image: "busybox", Stdin: true, TTY: true, Command: []string{"sh", "-c", "echo on a tty; echo second"}},
		},
	}}
	if _, err := client.CoreV1().Pods(ns).Create(ctx, exact, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	t.Run("logs show exactly what the container printed", func(t *testing.T) {
		eventually(t, 60*time.Second, "exact pod finished", func() (bool, error) {
			p, err := getPod(ns, "exact")
			if err != nil {
				return false, err
			}
			return p.Status.Phase == corev1.PodSucceeded, fmt.Errorf("phase %s, statuses %+v", p.Status.Phase, p.Status.ContainerStatuses)
		})
		want := map[string]string{
			"plain": strings.Repeat("x", 40000) + "\n\nto stderr\nno newline",
			"tty":   "on a tty\nsecond\n",
		}
		for c, w := range want {
			got, err := podLogs(ns, "exact", corev1.PodLogOptions{Container: c})
			if err != nil || got != w {
				t.Errorf("logs of %s = %q (%d bytes), %v; want %q (%d bytes)", c, trimmed(got), len(got), err, trimmed(w), len(w))
			}
		}
		got, err := podLogs(ns, "exact", corev1.PodLogOptions{Container: "plain", TailLines: ptr.To[int64](3)})
		if err != nil || got != "\nto stderr\nno newline" {
			t.Errorf("tail 3 = %q, %v", got, err)
		}
	})

	eventually(t, 60*time.Second, "ticker Running", podRunningReady(ns, "ticker"))
	eventually(t, 20*time.Second, "ticker printed 4 lines", func() (bool, error) {
		out, err := podLogs(ns, "ticker", corev1.PodLogOptions{})
		return strings.Contains(out, "out 3\n"), fmt.Errorf("%q: %v", out, err)
	})

	t.Run("without timestamps the lines as printed, stdout and stderr", func(t *testing.T) {
		out, err := podLogs(ns, "ticker", corev1.PodLogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		// The streams are read apart: each is in order, not one with the other.
		if outs, errs := numbers(t, lines, "out"), numbers(t, lines, "err"); len(outs) < 4 || outs[0] != 0 || len(errs) < 3 || errs[0] != 0 ||
			len(outs)+len(errs) != len(lines) {
			t.Errorf("logs %q", out)
		}
	})

	t.Run("timestamps: RFC3339Nano in front, in order", func(t *testing.T) {
		out, err := podLogs(ns, "ticker", corev1.PodLogOptions{Timestamps: true})
		if err != nil {
			t.Fatal(err)
		}
		lines := parseStamped(t, out)
		for i := 1; i < len(lines); i++ {
			if lines[i].time.Before(lines[i-1].time) {
				t.Errorf("line %d %v before line %d %v", i, lines[i], i-1, lines[i-1])
			}
		}
		numbers(t, textOf(lines), "out")
		p, _ := getPod(ns, "ticker")
		started := p.Status.ContainerStatuses[0].State.Running.StartedAt.Time
		if first := lines[0].time; first.Before(started.Add(-time.Second)) || first.After(started.Add(5*time.Second)) {
			t.Errorf("first line at %v, container started at %v", first, started)
		}
	})

	t.Run("sinceTime and sinceSeconds drop the earlier lines", func(t *testing.T) {
		// sinceTime has a second's precision: a second after the latest line.
		out, _ := podLogs(ns, "ticker", corev1.PodLogOptions{Timestamps: true})
		lines := parseStamped(t, out)
		since := lines[len(lines)-1].time.Truncate(time.Second).Add(time.Second)
		eventually(t, 20*time.Second, "lines after sinceTime", func() (bool, error) {
			out, err := podLogs(ns, "ticker", corev1.PodLogOptions{Timestamps: true, SinceTime: &metav1.Time{Time: since}})
			return strings.Count(out, "\n") >= 4, fmt.Errorf("%q: %v", out, err)
		})
		out, _ = podLogs(ns, "ticker", corev1.PodLogOptions{Timestamps: true, SinceTime: &metav1.Time{Time: since}})
		after := parseStamped(t, out)
		for _, l := range after {
			if l.time.Before(since) {
				t.Errorf("sinceTime %v gave line %v", since, l)
			}
		}
		if outs := numbers(t, textOf(after), "out"); len(outs) == 0 || outs[0] <= 0 {
			t.Errorf("sinceTime %v: %q", since, out)
		}
		before := time.Now()
		out, err := podLogs(ns, "ticker", corev1.PodLogOptions{Timestamps: true, SinceSeconds: ptr.To[int64](1)})
		if err != nil {
			t.Fatal(err)
		}
		recent := parseStamped(t, out)
		if len(recent) == 0 || numbers(t, textOf(recent), "out")[0] == 0 {
			t.Errorf("sinceSeconds=1 gave %q", out)
		}
		for _, l := range recent {
			if l.time.Before(before.Add(-time.Second - 100*time.Millisecond)) {
				t.Errorf("sinceSeconds=1 at %v gave line %v", before, l)
			}
		}
		// Without timestamps, the same lines.
		plain, _ := podLogs(ns, "ticker", corev1.PodLogOptions{SinceTime: &metav1.Time{Time: since}})
		if !strings.HasPrefix(plain, strings.Join(textOf(after), "\n")) {
			t.Errorf("sinceTime without timestamps %q, with %q", plain, out)
		}
	})

	t.Run("follow with timestamps", func(t *testing.T) {
		fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		stream, err := client.CoreV1().Pods(ns).GetLogs("ticker", &corev1.PodLogOptions{Follow: true, Timestamps: true, TailLines: ptr.To[int64](0)}).Stream(fctx)
		if err != nil {
			t.Fatal(err)
		}
		defer stream.Close()
		sc := bufio.NewScanner(stream)
		var got string
		for i := 0; i < 4 && sc.Scan(); i++ {
			got += sc.Text() + "\n"
		}
		if lines := parseStamped(t, got); len(lines) != 4 || time.Since(lines[0].time) > 5*time.Second {
			t.Errorf("followed %q (%v)", got, sc.Err())
		}
	})
}

func trimmed(s string) string {
	if len(s) > 100 {
		return s[:40] + "..." + s[len(s)-40:]
	}
	return s
}

// TestLogsSurviveAgentRestart: a container that logs keeps logging while
// the agent is down and after it is back; no line is lost or repeated.
func TestLogsSurviveAgentRestart(t *testing.T) {
	cfg := rootAgentConfig(t, "logrestart-node", "kstkubelet8", "10.244.243.0/24")
	ns := "logrestart"
	createNamespace(t, ns)
	ctx := context.Background()
	h := startAgent(t, cfg)
	if _, err := client.CoreV1().Pods(ns).Create(ctx, tickerPod(ns, "ticker", "logrestart-node", "tick", "0.1", false), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "ticker Running", podRunningReady(ns, "ticker"))
	var atStop []int
	eventually(t, 20*time.Second, "ticks before the restart", func() (bool, error) {
		out, err := podLogs(ns, "ticker", corev1.PodLogOptions{})
		atStop = numbers(t, strings.Split(out, "\n"), "tick")
		return len(atStop) >= 5, err
	})
	before, _ := getPod(ns, "ticker")
	h.stop(t)
	// The container prints some 20 lines while no agent reads.
	down := time.Now()
	time.Sleep(2 * time.Second)

	h = startAgent(t, cfg)
	defer h.stop(t)
	defer deleteAllPods(t, ns, cfg.RootDir)
	back := time.Now()
	var lines []stampedLine
	eventually(t, 30*time.Second, "ticks after the restart", func() (bool, error) {
		out, err := podLogs(ns, "ticker", corev1.PodLogOptions{Timestamps: true})
		if err != nil {
			return false, err
		}
		lines = parseStamped(t, out)
		return len(lines) > 0 && lines[len(lines)-1].time.After(back.Add(time.Second)), fmt.Errorf("%d lines", len(lines))
	})
	ticks := numbers(t, textOf(lines), "tick")
	if ticks[0] != 0 || len(ticks) < len(atStop)+25 {
		t.Errorf("ticks %v (at the agent's stop: %d)", ticks, len(atStop))
	}
	// What it printed while the agent was down was logged once it was back.
	for _, l := range lines {
		if l.time.After(down.Add(200*time.Millisecond)) && l.time.Before(back) {
			t.Errorf("line %v logged while no agent ran (%v to %v)", l, down, back)
		}
	}
	after, _ := getPod(ns, "ticker")
	if cs, b := after.Status.ContainerStatuses[0], before.Status.ContainerStatuses[0]; cs.RestartCount != 0 || cs.ContainerID != b.ContainerID {
		t.Errorf("container restarted: before %+v after %+v", b, cs)
	}
	// And follow works on the reattached output.
	fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	stream, err := client.CoreV1().Pods(ns).GetLogs("ticker", &corev1.PodLogOptions{Follow: true, TailLines: ptr.To[int64](0)}).Stream(fctx)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	sc := bufio.NewScanner(stream)
	var followed []string
	for i := 0; i < 3 && sc.Scan(); i++ {
		followed = append(followed, sc.Text())
	}
	if n := numbers(t, followed, "tick"); len(n) != 3 || n[0] <= ticks[len(ticks)-1]-5 {
		t.Errorf("followed %q after ticks up to %d (%v)", followed, ticks[len(ticks)-1], sc.Err())
	}
}
