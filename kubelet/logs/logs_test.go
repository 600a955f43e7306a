package logs

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// clock returns times one millisecond apart from t0, one per call.
func clock() func() time.Time {
	t := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(time.Millisecond)
		return t
	}
}

func ms(n int) string {
	return time.Date(2026, 12, 2, 7, 0, 0, n*int(time.Millisecond), time.UTC).Format(time.RFC3339Nano)
}

type write struct {
	stream Stream
	data   string
}

func TestWriter(t *testing.T) {
	long := strings.Repeat("x", MaxLineSize)
	for _, tc := range []struct {
		name   string
		writes []write
		want   []string
	}{
		{"lines", []write{{Stdout, "one\ntwo\n"}}, []string{
			ms(1) + " stdout F one", ms(2) + " stdout F two"}},
		{"a line in pieces is one record", []write{{Stdout, "o"}, {Stdout, "ne"}, {Stdout, "\nt"}, {Stdout, "wo\n"}}, []string{
			ms(1) + " stdout F one", ms(2) + " stdout F two"}},
		{"empty lines", []write{{Stdout, "\n\n"}}, []string{ms(1) + " stdout F ", ms(2) + " stdout F "}},
		{"crlf ends a line", []write{{Stdout, "tty\r\nline\r"}, {Stdout, "\n"}}, []string{
			ms(1) + " stdout F tty", ms(2) + " stdout F line"}},
		{"a lone cr stays", []write{{Stdout, "a\rb\n"}}, []string{ms(1) + " stdout F a\rb"}},
		{"streams", []write{{Stdout, "out\n"}, {Stderr, "err\n"}}, []string{
			ms(1) + " stdout F out", ms(2) + " stderr F err"}},
		{"an unfinished line is flushed partial at close", []write{{Stdout, "no newline"}}, []string{
			ms(1) + " stdout P no newline"}},
		{"a line of MaxLineSize is one record", []write{{Stdout, long + "\n"}}, []string{ms(1) + " stdout F " + long}},
		{"a longer line is cut", []write{{Stdout, long + "yz\n"}}, []string{
			ms(1) + " stdout P " + long, ms(2) + " stdout F yz"}},
		{"a longer unfinished line is cut as it comes", []write{{Stdout, long}, {Stdout, "y"}, {Stdout, "z"}}, []string{
			ms(1) + " stdout P " + long, ms(2) + " stdout P yz"}},
		{"two stream's unfinished lines", []write{{Stdout, "a"}, {Stderr, "b\n"}, {Stdout, "c\n"}}, []string{
			ms(1) + " stderr F b", ms(2) + " stdout F ac"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			f := NewFile(&buf, clock())
			ws := map[Stream]interface {
				Write([]byte) (int, error)
				Close() error
			}{Stdout: f.Stream(Stdout), Stderr: f.Stream(Stderr)}
			for _, w := range tc.writes {
				if n, err := ws[w.stream].Write([]byte(w.data)); err != nil || n != len(w.data) {
					t.Fatalf("Write(%q) = %d, %v", w.data, n, err)
				}
			}
			for _, s := range []Stream{Stdout, Stderr} {
				if err := ws[s].Close(); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			want := strings.Join(tc.want, "\n") + "\n"
			if got := buf.String(); got != want {
				t.Errorf("log =\n%q\nwant\n%q", trim(got), trim(want))
			}
			if _, err := ws[Stdout].Write([]byte("late\n")); err != ErrClosed {
				t.Errorf("write after close: %v, want ErrClosed", err)
			}
		})
	}
}

func trim(s string) string {
	if len(s) > 300 {
		return s[:150] + "..." + s[len(s)-150:]
	}
	return s
}

// testLog is a log written by a container that printed, to stdout unless
// said otherwise, at 1 ms intervals: "one\n", "two\n", to stderr "oops\n",
// a long line cut in two records, "three\n", and finally "no newline".
func testLog(t *testing.T) (path, long string) {
	long = strings.Repeat("L", MaxLineSize+10)
	path = filepath.Join(t.TempDir(), "0.log")
	var buf bytes.Buffer
	f := NewFile(&buf, clock())
	out, errs := f.Stream(Stdout), f.Stream(Stderr)
	fmt.Fprint(out, "one\ntwo\n")
	fmt.Fprint(errs, "oops\n")
	fmt.Fprint(out, long+"\nthree\nno newline")
	out.Close()
	errs.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, long
}

func fixed(n int) string {
	return time.Date(2026, 12, 2, 7, 0, 0, n*int(time.Millisecond), time.UTC).Format(TimestampFormat) + " "
}

func TestReadLogs(t *testing.T) {
	path, long := testLog(t)
	since := func(n int) time.Time { return time.Date(2026, 12, 2, 7, 0, 0, n*int(time.Millisecond), time.UTC) }
	i64 := func(n int64) *int64 { return &n }
	all := "one\ntwo\noops\n" + long + "\nthree\nno newline"
	for _, tc := range []struct {
		name           string
		opts           Options
		stdout, stderr bool
		want           string
	}{
		{"everything as printed", Options{}, true, true, all},
		{"stdout only", Options{}, true, false, "one\ntwo\n" + long + "\nthree\nno newline"},
		{"stderr only", Options{}, false, true, "oops\n"},
		{"timestamps", Options{Timestamps: true}, true, true,
			fixed(1) + "one\n" + fixed(2) + "two\n" + fixed(3) + "oops\n" + fixed(4) + long + "\n" + fixed(6) + "three\n" + fixed(7) + "no newline"},
		{"since a time", Options{Since: since(3)}, true, true, "oops\n" + long + "\nthree\nno newline"},
		{"since a time in the middle of a cut line", Options{Since: since(5), Timestamps: true}, true, true,
			fixed(5) + long[MaxLineSize:] + "\n" + fixed(6) + "three\n" + fixed(7) + "no newline"},
		{"since after the end", Options{Since: since(100)}, true, true, ""},
		{"tail 0", Options{TailLines: i64(0)}, true, true, ""},
		{"tail 1: the unfinished line", Options{TailLines: i64(1)}, true, true, "no newline"},
		{"tail 2", Options{TailLines: i64(2)}, true, true, "three\nno newline"},
		{"tail 3: a cut line counts once", Options{TailLines: i64(3)}, true, true, long + "\nthree\nno newline"},
		{"tail 4", Options{TailLines: i64(4)}, true, true, "oops\n" + long + "\nthree\nno newline"},
		{"tail more than there is", Options{TailLines: i64(100)}, true, true, all},
		{"tail and since", Options{TailLines: i64(4), Since: since(6)}, true, true, "three\nno newline"},
		{"limit bytes", Options{LimitBytes: i64(6)}, true, true, "one\ntw"},
		{"limit bytes counts the timestamps", Options{LimitBytes: i64(int64(len(fixed(1)) + 2)), Timestamps: true}, true, true, fixed(1) + "on"},
		{"limit bytes counts only the streams shown", Options{LimitBytes: i64(3)}, false, true, "oop"},
		{"limit bytes beyond the end", Options{LimitBytes: i64(1 << 30)}, true, true, all},
		{"tail and limit", Options{TailLines: i64(2), LimitBytes: i64(8)}, true, true, "three\nno"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			var stdout, stderr *bytes.Buffer
			if tc.stdout {
				stdout = &buf
			}
			if tc.stderr {
				stderr = &buf
			}
			if err := ReadLogs(context.Background(), path, tc.opts, writerOrNil(stdout), writerOrNil(stderr)); err != nil {
				t.Fatal(err)
			}
			if got := buf.String(); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", trim(got), trim(tc.want))
			}
		})
	}
}

// writerOrNil keeps a nil *bytes.Buffer a nil io.Writer.
func writerOrNil(b *bytes.Buffer) interface{ Write([]byte) (int, error) } {
	if b == nil {
		return nil
	}
	return b
}

func TestReadLogsSeparateStreams(t *testing.T) {
	path, _ := testLog(t)
	var out, errs bytes.Buffer
	if err := ReadLogs(context.Background(), path, Options{Timestamps: true, TailLines: new(int64(3))}, &out, &errs); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(out.String(), "three\n"+fixed(7)+"no newline") || errs.Len() != 0 {
		t.Errorf("stdout %q, stderr %q", trim(out.String()), errs.String())
	}
}

func TestReadLogsWithoutRecords(t *testing.T) {
	// A log written before the agent wrote records reads as it is.
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte("raw\nlines\nend"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts Options
		want string
	}{
		{Options{}, "raw\nlines\nend\n"},
		{Options{TailLines: new(int64(2))}, "lines\nend\n"},
		{Options{Timestamps: true}, "raw\nlines\nend\n"},
		{Options{Since: time.Now().Add(-time.Hour)}, ""},
	} {
		var buf bytes.Buffer
		if err := ReadLogs(context.Background(), path, tc.opts, &buf, &buf); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.opts, buf.String(), tc.want)
		}
	}
}

func TestTailAcrossBlocks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	lf, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := lf.Stream(Stdout)
	// Some 4 blocks of records, two of them cut lines.
	var want []string
	for i := range 3000 {
		line := fmt.Sprintf("line %d", i)
		if i%1000 == 500 {
			line += strings.Repeat("-", MaxLineSize)
		}
		want = append(want, line)
		fmt.Fprintln(out, line)
	}
	out.Close()
	lf.Close()
	for _, n := range []int{1, 7, 499, 500, 501, 2000, 2999, 3000} {
		var buf bytes.Buffer
		if err := ReadLogs(context.Background(), path, Options{TailLines: new(int64(n))}, &buf, &buf); err != nil {
			t.Fatal(err)
		}
		if got, w := buf.String(), strings.Join(want[len(want)-n:], "\n")+"\n"; got != w {
			t.Errorf("tail %d: %d bytes starting %q, want %d bytes starting %q", n, len(got), trim(got)[:20], len(w), w[:20])
		}
	}
}

func TestFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	lf, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, errs := lf.Stream(Stdout), lf.Stream(Stderr)
	fmt.Fprintln(out, "before")
	var running atomic.Bool
	running.Store(true)
	pr, pw := newPipe()
	done := make(chan error, 1)
	go func() {
		done <- ReadLogs(context.Background(), path, Options{Follow: true, TailLines: new(int64(0)), Running: running.Load,
			PollInterval: 5 * time.Millisecond}, pw, pw)
	}()
	// Lines appended while following arrive in order, a line written in
	// pieces arrives whole.
	for i := range 5 {
		fmt.Fprintf(out, "out %d", i)
		time.Sleep(2 * time.Millisecond)
		fmt.Fprintln(out)
		fmt.Fprintf(errs, "err %d\n", i)
		if got, want := pr.next(t, 2), fmt.Sprintf("out %d\nerr %d\n", i, i); got != want {
			t.Fatalf("followed %q, want %q", got, want)
		}
	}
	// What the container wrote last, just before it stopped, is read.
	fmt.Fprint(out, "last")
	out.Close()
	running.Store(false)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end after the container stopped")
	}
	if got := pr.next(t, 1); got != "last" {
		t.Errorf("last output %q", got)
	}
}

func TestFollowEndsWithContext(t *testing.T) {
	path, _ := testLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var buf bytes.Buffer
	go func() {
		done <- ReadLogs(ctx, path, Options{Follow: true, PollInterval: time.Millisecond}, &buf, &buf)
	}()
	time.Sleep(20 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil || !strings.HasPrefix(buf.String(), "one\n") {
			t.Errorf("ReadLogs = %v after %q", err, trim(buf.String()))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("follow did not end with its context")
	}
}

// pipe collects writes; next waits (bounded) for n more writes.
type pipe struct{ c chan string }

func newPipe() (*pipe, *pipe) { p := &pipe{c: make(chan string, 100)}; return p, p }

func (p *pipe) Write(b []byte) (int, error) { p.c <- string(b); return len(b), nil }

func (p *pipe) next(t *testing.T, n int) string {
	t.Helper()
	var s string
	for range n {
		select {
		case w := <-p.c:
			s += w
		case <-time.After(10 * time.Second):
			t.Fatalf("no output within 10s after %q", s)
		}
	}
	return s
}
