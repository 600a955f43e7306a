package server

import (
	"net/url"
	"testing"
	"time"
)

func TestParseLogOptions(t *testing.T) {
	now := time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC)
	for query, want := range map[string]struct {
		follow, timestamps, previous bool
		tail, limit                  int64 // -1: unset
		since                        time.Time
		stream                       string
	}{
		"":                                      {tail: -1, limit: -1},
		"follow=true&previous=true":             {follow: true, previous: true, tail: -1, limit: -1},
		"timestamps=true&tailLines=0":           {timestamps: true, tail: 0, limit: -1},
		"tailLines=5&limitBytes=100":            {tail: 5, limit: 100},
		"sinceSeconds=60":                       {tail: -1, limit: -1, since: now.Add(-time.Minute)},
		"sinceTime=2026-12-02T06:30:00Z":        {tail: -1, limit: -1, since: now.Add(-30 * time.Minute)},
		"sinceTime=2026-12-02T08:30:00%2B02:00": {tail: -1, limit: -1, since: now.Add(-30 * time.Minute)},
		// Both given (upstream's API refuses it): the later wins.
		"sinceSeconds=60&sinceTime=2026-12-02T06:30:00Z": {tail: -1, limit: -1, since: now.Add(-time.Minute)},
		"stream=Stderr": {tail: -1, limit: -1, stream: "Stderr"},
	} {
		q, err := url.ParseQuery(query)
		if err != nil {
			t.Fatal(err)
		}
		opts, previous, stream, err := parseLogOptions(q, now)
		if err != nil {
			t.Errorf("%q: %v", query, err)
			continue
		}
		tail, limit := int64(-1), int64(-1)
		if opts.TailLines != nil {
			tail = *opts.TailLines
		}
		if opts.LimitBytes != nil {
			limit = *opts.LimitBytes
		}
		if opts.Follow != want.follow || opts.Timestamps != want.timestamps || previous != want.previous ||
			tail != want.tail || limit != want.limit || !opts.Since.Equal(want.since) || stream != want.stream {
			t.Errorf("%q: got %+v previous %v stream %q, want %+v", query, opts, previous, stream, want)
		}
	}
	for _, query := range []string{"tailLines=-1", "limitBytes=0", "limitBytes=x", "sinceSeconds=0", "sinceTime=yesterday", "stream=both"} {
		q, _ := url.ParseQuery(query)
		if _, _, _, err := parseLogOptions(q, now); err == nil {
			t.Errorf("%q accepted", query)
		}
	}
}
