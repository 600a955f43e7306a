package containerd

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/kubeseed/kubeseed/kubelet/logs"
)

// TestAttachReplaysWhatTheLogReadMissed: kubectl run -i reads the log, then
// attaches; a line the container printed in between reaches the attaching
// client once, and nothing the read already showed is repeated.
func TestAttachReplaysWhatTheLogReadMissed(t *testing.T) {
	o, err := newOutput(filepath.Join(t.TempDir(), "0.log"), false, false)
	if err != nil {
		t.Fatal(err)
	}
	defer o.finish()
	stdout, stderr := streamWriter{o, logs.Stdout}, streamWriter{o, logs.Stderr}
	write := func(w streamWriter, s string) {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	write(stdout, "before the read\n")
	var read bytes.Buffer
	now := time.Now()
	if err := logs.ReadLogs(t.Context(), o.logPath, logs.Options{ReadTo: func(off int64) { o.markRead(off, now) }}, &read, &read); err != nil {
		t.Fatal(err)
	}
	if read.String() != "before the read\n" {
		t.Fatalf("log read %q", read.String())
	}
	write(stdout, "between the read and the attach\n")
	write(stderr, "on stderr too\n")

	var out, errOut bytes.Buffer
	c := &attachClient{stdout: &out, stderr: &errOut, gone: make(chan struct{})}
	o.mu.Lock()
	o.replaySinceRead(c, now.Add(time.Second))
	o.clients[c] = struct{}{}
	o.mu.Unlock()
	write(stdout, "after the attach\n")
	if want := "between the read and the attach\nafter the attach\n"; out.String() != want {
		t.Errorf("attached client's stdout %q, want %q", out.String(), want)
	}
	if errOut.String() != "on stderr too\n" {
		t.Errorf("attached client's stderr %q", errOut.String())
	}

	// The read is given to one attach only, and only soon after it.
	var again bytes.Buffer
	o.mu.Lock()
	o.replaySinceRead(&attachClient{stdout: &again, gone: make(chan struct{})}, now.Add(2*time.Second))
	o.mu.Unlock()
	if again.Len() != 0 {
		t.Errorf("a second attach got a replay: %q", again.String())
	}
	o.markRead(0, now)
	var late bytes.Buffer
	o.mu.Lock()
	o.replaySinceRead(&attachClient{stdout: &late, gone: make(chan struct{})}, now.Add(replayWindow+time.Second))
	o.mu.Unlock()
	if late.Len() != 0 {
		t.Errorf("an attach long after the read got a replay: %q", late.String())
	}
}
