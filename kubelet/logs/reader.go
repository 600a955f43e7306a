package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// TimestampFormat is how `kubectl logs --timestamps` shows a line's time:
// RFC 3339 with nanoseconds at a fixed width, as upstream's kubelet prints
// it.
const TimestampFormat = "2006-01-02T15:04:05.000000000Z07:00"

// readTimeFormat parses records' times of any width.
const readTimeFormat = "2006-01-02T15:04:05.999999999Z07:00"

// DefaultPollInterval is how often a follower looks for what was appended
// once it has read everything, and asks whether the container still runs.
const DefaultPollInterval = 200 * time.Millisecond

// Options say what ReadLogs shows, as the query of a log request does.
type Options struct {
	// Since drops records older than it (sinceSeconds, sinceTime); zero
	// keeps all.
	Since time.Time
	// Timestamps puts each line's time (TimestampFormat) and a space in
	// front of it.
	Timestamps bool
	// TailLines starts at the last TailLines lines (a line cut into
	// partial records counts once); nil starts at From.
	TailLines *int64
	// From is the offset to start at without TailLines: the end of a
	// record (what an earlier read's ReadTo was told), or 0.
	From int64
	// LimitBytes stops after that many bytes of output; nil shows all.
	LimitBytes *int64
	// Follow keeps reading what is appended until Running reports false
	// (or ctx ends), then returns once the rest is read.
	Follow bool
	// Running reports whether the container may still write to the log;
	// nil follows until ctx ends.
	Running func() bool
	// PollInterval is DefaultPollInterval when zero.
	PollInterval time.Duration
	// ReadTo, when set, is told the offset a reader that does not follow
	// read the file to, once it reached its end (a client about to attach
	// has seen everything before it).
	ReadTo func(offset int64)
}

// record is one parsed line of the log.
type record struct {
	time    time.Time
	stream  Stream
	partial bool
	// content is what the container printed: a full record's ends in
	// "\n", a partial one's does not.
	content []byte
}

// parseRecord parses one line of the log (with its newline, if it has
// one). A line that is not a record (a log written before the agent wrote
// this format) reads as a full stdout line of no known time.
func parseRecord(line []byte) record {
	if r, err := parseCRI(line); err == nil {
		return r
	}
	if len(line) == 0 || line[len(line)-1] != '\n' {
		line = append(line[:len(line):len(line)], '\n')
	}
	return record{stream: Stdout, content: line}
}

func parseCRI(line []byte) (record, error) {
	var r record
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return r, errors.New("no time")
	}
	t, err := time.Parse(readTimeFormat, string(ts))
	if err != nil {
		return r, err
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok || (Stream(stream) != Stdout && Stream(stream) != Stderr) {
		return r, fmt.Errorf("unknown stream %q", stream)
	}
	tags, content, ok := bytes.Cut(rest, []byte{' '})
	if !ok || len(tags) == 0 {
		return r, errors.New("no tag")
	}
	// Later tags may follow the first, after ':' (as upstream reads them).
	partial := tags[0] == tagPartial
	if partial {
		content = bytes.TrimSuffix(content, []byte{'\n'})
	} else if len(content) == 0 || content[len(content)-1] != '\n' {
		// The last record of a file still being written.
		content = append(content[:len(content):len(content)], '\n')
	}
	return record{time: t, stream: Stream(stream), partial: partial, content: content}, nil
}

// errLimit ends a read at LimitBytes.
var errLimit = errors.New("byte limit reached")

// output writes records as Options say.
type output struct {
	opts   *Options
	w      map[Stream]io.Writer
	remain int64
	// midLine is set for a stream whose last record shown was partial:
	// its next record continues the line and gets no time in front.
	midLine map[Stream]bool
}

func (o *output) write(r record) error {
	w := o.w[r.stream]
	if w == nil || (!o.opts.Since.IsZero() && (r.time.IsZero() || r.time.Before(o.opts.Since))) {
		return nil
	}
	line := r.content
	if o.opts.Timestamps && !o.midLine[r.stream] && !r.time.IsZero() {
		line = append(r.time.AppendFormat(make([]byte, 0, len(TimestampFormat)+1+len(line)), TimestampFormat), ' ')
		line = append(line, r.content...)
	}
	o.midLine[r.stream] = r.partial
	if int64(len(line)) > o.remain {
		line = line[:o.remain]
	}
	n, err := w.Write(line)
	o.remain -= int64(n)
	if err != nil {
		return err
	}
	if n < len(line) {
		return io.ErrShortWrite
	}
	if o.remain <= 0 {
		return errLimit
	}
	return nil
}

// ReadLogs writes the log at path to stdout and stderr (the same writer
// for both gives them interleaved as they came; nil leaves a stream out),
// as opts say. It returns nil at the end of the log (when following: once
// the container stopped and the rest was read), at LimitBytes, or when ctx
// ends while following.
func ReadLogs(ctx context.Context, path string, opts Options, stdout, stderr io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	start := opts.From
	if opts.TailLines != nil {
		if start, err = tailStart(f, *opts.TailLines); err != nil {
			return fmt.Errorf("reading the last %d lines of %s: %w", *opts.TailLines, path, err)
		}
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	out := &output{opts: &opts, w: map[Stream]io.Writer{Stdout: stdout, Stderr: stderr},
		remain: math.MaxInt64, midLine: map[Stream]bool{}}
	if opts.LimitBytes != nil {
		if *opts.LimitBytes <= 0 {
			return nil
		}
		out.remain = *opts.LimitBytes
	}
	poll := opts.PollInterval
	if poll <= 0 {
		poll = DefaultPollInterval
	}
	br := bufio.NewReaderSize(f, 64*1024)
	offset := start // of the end of what was read
	var pending []byte
	stopped := !opts.Follow
	var timer *time.Timer
	for {
		line, err := br.ReadBytes('\n')
		offset += int64(len(line))
		if err == nil {
			if len(pending) > 0 {
				line, pending = append(pending, line...), nil
			}
			if err := out.write(parseRecord(line)); err != nil {
				return ignoreLimit(err)
			}
			continue
		}
		if err != io.EOF {
			return err
		}
		// bufio does not keep io.EOF: reading again reads what was
		// appended since. A record being written waits in pending.
		pending = append(pending, line...)
		if stopped {
			if len(pending) > 0 {
				if err := out.write(parseRecord(pending)); err != nil {
					return ignoreLimit(err)
				}
			}
			if opts.ReadTo != nil && !opts.Follow {
				opts.ReadTo(offset)
			}
			return nil
		}
		if timer == nil {
			timer = time.NewTimer(poll)
			defer timer.Stop()
		} else {
			timer.Reset(poll)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		// Once the container stopped, one more read takes what it wrote
		// last.
		stopped = opts.Running != nil && !opts.Running()
	}
}

func ignoreLimit(err error) error {
	if err == errLimit {
		return nil
	}
	return err
}

// tailBlock is how much tailStart reads at a time, from the end.
const tailBlock = 32 * 1024

// tailStart returns the offset of the first record of the last n lines of
// f. A line is a full record with the partial ones of its stream before
// it; a last record, partial or not, ends a line too (what a container is
// printing now, or left without a newline).
func tailStart(f *os.File, n int64) (int64, error) {
	if n < 0 {
		return 0, nil
	}
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	// buf holds the file's bytes from pos to the end of the records not
	// yet looked at, which is pos+len(buf).
	pos := st.Size()
	var buf []byte
	lines := int64(0)
	last := true
	for {
		end := len(buf)
		// The record ending at end starts after the newline before it.
		i := -1
		if end > 0 {
			i = bytes.LastIndexByte(buf[:end-1], '\n')
		}
		if i < 0 && pos > 0 {
			// Read more from before pos.
			k := min(int64(tailBlock), pos)
			block := make([]byte, k, int(k)+len(buf))
			if _, err := f.ReadAt(block, pos-k); err != nil {
				return 0, err
			}
			pos -= k
			buf = append(block, buf...)
			continue
		}
		if end == 0 {
			return 0, nil // the file's start
		}
		if endsLine(buf[i+1:end]) || last {
			if lines == n {
				return pos + int64(end), nil
			}
			lines++
		}
		last = false
		if i < 0 {
			return 0, nil
		}
		buf = buf[:i+1]
	}
}

// endsLine tells whether a record ends a line: a full record, or a line
// that is not a record at all.
func endsLine(line []byte) bool {
	r, err := parseCRI(line)
	return err != nil || !r.partial
}
