package logs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// Stream is the stream a record came from, as the CRI log format names it.
type Stream string

const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Tags of a record.
const (
	tagFull    = 'F'
	tagPartial = 'P'
)

// MaxLineSize is the longest content of one record: longer lines are cut
// into partial records of this size. It is containerd's CRI default
// (max_container_log_line_size, 16 KiB), so one record never grows with
// what a container prints.
const MaxLineSize = 16 * 1024

// writeTimeFormat is how records are timed: RFC 3339 with nanoseconds, in
// UTC, as containerd's CRI writes them (the reader takes any width).
const writeTimeFormat = time.RFC3339Nano

// ErrClosed is returned by writes after Close.
var ErrClosed = errors.New("log closed")

// File is a CRI log being written by the streams of one container. Each
// record is one write, made under a lock, so the streams' records never
// mix, and a reader sees whole records (the file is opened for appending).
type File struct {
	mu  sync.Mutex
	w   io.Writer
	c   io.Closer
	now func() time.Time
	buf []byte
	// err is the first write error, or ErrClosed.
	err    error
	closed bool
	// size is the file's length: what it held when opened and every
	// record written since.
	size int64
}

// OpenFile opens the log at path for appending, creating it if needed.
func OpenFile(path string) (*File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &File{w: f, c: f, now: time.Now, size: st.Size()}, nil
}

// NewFile writes records to w, timed by now (time.Now when nil).
func NewFile(w io.Writer, now func() time.Time) *File {
	if now == nil {
		now = time.Now
	}
	return &File{w: w, now: now}
}

// Stream returns the writer of one stream: it cuts what it is given into
// records, holding an unfinished line until its newline, MaxLineSize bytes
// of it, or Close. A line's "\r\n" ends it as "\n" does (a terminal's
// output reads as lines), as containerd's CRI logger does. Write and Close
// may be called from different goroutines.
func (f *File) Stream(s Stream) io.WriteCloser {
	return &lineWriter{f: f, stream: s}
}

// Close closes the file (after the streams are closed, for their last
// partial lines).
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil
	}
	f.closed, f.err = true, ErrClosed
	if f.c != nil {
		return f.c.Close()
	}
	return nil
}

// record writes one record; the caller holds f.mu. Write errors are
// remembered and returned from then on: the container's output is then
// drained and dropped, rather than blocking it.
func (f *File) record(s Stream, tag byte, content []byte) error {
	if f.err != nil {
		return f.err
	}
	b := f.now().UTC().AppendFormat(f.buf[:0], writeTimeFormat)
	b = append(b, ' ')
	b = append(b, s...)
	b = append(b, ' ', tag, ' ')
	b = append(b, content...)
	b = append(b, '\n')
	f.buf = b
	n, err := f.w.Write(b)
	f.size += int64(n)
	if err != nil {
		f.err = err
		return err
	}
	return nil
}

// Size is the length of the file: a reader that read this far has every
// record written so far.
func (f *File) Size() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.size
}

type lineWriter struct {
	f      *File
	stream Stream
	// line is the unfinished line (shorter than MaxLineSize).
	line   []byte
	closed bool
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	if l.closed {
		return 0, ErrClosed
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.line = append(l.line, p...)
			for len(l.line) > MaxLineSize {
				if err := l.f.record(l.stream, tagPartial, l.line[:MaxLineSize]); err != nil {
					return n, err
				}
				l.line = l.line[:copy(l.line, l.line[MaxLineSize:])]
			}
			return n, nil
		}
		line := p[:i]
		if len(l.line) > 0 {
			l.line = append(l.line, line...)
			line = l.line
		}
		p = p[i+1:]
		line = bytes.TrimSuffix(line, []byte{'\r'})
		for len(line) > MaxLineSize {
			if err := l.f.record(l.stream, tagPartial, line[:MaxLineSize]); err != nil {
				return n, err
			}
			line = line[MaxLineSize:]
		}
		err := l.f.record(l.stream, tagFull, line)
		l.line = l.line[:0]
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// Close writes the unfinished line as a partial record: the container
// ended without a newline (or the agent stops reading it, and what comes
// next continues the line in a record of its own).
func (l *lineWriter) Close() error {
	l.f.mu.Lock()
	defer l.f.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if len(l.line) == 0 {
		return nil
	}
	err := l.f.record(l.stream, tagPartial, l.line)
	l.line = nil
	return err
}
