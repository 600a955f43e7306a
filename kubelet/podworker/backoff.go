package podworker

import (
	"sync"
	"time"
)

// Backoff spaces out restarts of a crashing container as upstream does: the
// first restart is immediate, then 10 s, doubling up to 5 min; a container
// that ran without a restart for ResetAfter starts over at 10 s.
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	ResetAfter time.Duration

	mu      sync.Mutex
	entries map[string]*backoffEntry
}

type backoffEntry struct {
	delay time.Duration
	last  time.Time
}

// NewBackoff returns the upstream restart back-off (10 s, 5 min, 10 min).
func NewBackoff() *Backoff {
	return &Backoff{Initial: 10 * time.Second, Max: 5 * time.Minute, ResetAfter: 10 * time.Minute}
}

// InBackoff reports whether a restart of key, whose last run finished at
// finishedAt, must still wait at now, and the current delay.
func (b *Backoff) InBackoff(key string, finishedAt, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entries[key]
	if e == nil || b.expired(e, now) {
		return false, 0
	}
	return now.Sub(finishedAt) < e.delay, e.delay
}

// InBackoffSinceUpdate reports whether key must still wait at now, counted
// from the last Next (image pulls back off from their last failure), and
// the current delay.
func (b *Backoff) InBackoffSinceUpdate(key string, now time.Time) (bool, time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entries[key]
	if e == nil || b.expired(e, now) {
		return false, 0
	}
	return now.Sub(e.last) < e.delay, e.delay
}

// RetryAt is when the back-off of key counted from its last Next ends (the
// zero time without one).
func (b *Backoff) RetryAt(key string) time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.entries[key]
	if e == nil {
		return time.Time{}
	}
	return e.last.Add(e.delay)
}

// Next records a restart of key at now.
func (b *Backoff) Next(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.entries == nil {
		b.entries = map[string]*backoffEntry{}
	}
	e := b.entries[key]
	switch {
	case e == nil || b.expired(e, now):
		b.entries[key] = &backoffEntry{delay: b.Initial, last: now}
	default:
		e.delay = min(e.delay*2, b.Max)
		e.last = now
	}
}

// Forget drops every entry whose key starts with prefix (a pod's UID).
func (b *Backoff) Forget(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(b.entries, k)
		}
	}
}

func (b *Backoff) expired(e *backoffEntry, now time.Time) bool {
	return now.Sub(e.last) > e.delay+b.ResetAfter
}
