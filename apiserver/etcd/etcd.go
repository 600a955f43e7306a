package etcd

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Config configures the embedded etcd server.
type Config struct {
	// Dir holds etcd's data (member/ wal and snap).
	Dir string
	// LogLevel is etcd's own log level; the default "fatal" keeps the API server's log readable (etcd logs harmless errors on every close); failures still reach Err().
	LogLevel string
	// UnsafeNoFsync skips etcd's fsync of every write: a power cut can lose
	// acknowledged writes. Only for throw-away clusters (test environments,
	// as upstream's envtest runs its etcd).
	UnsafeNoFsync bool
}

// Server is a started embedded etcd.
type Server struct {
	etcd *embed.Etcd
}

// startTimeout bounds how long a start may take before it counts as failed;
// a healthy single member is ready in well under a second.
const startTimeout = 60 * time.Second

// Start starts etcd and returns once it serves clients.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	ec := embed.NewConfig()
	ec.Name = "kubeseed"
	ec.Dir = cfg.Dir
	ec.LogLevel = cfg.LogLevel
	if ec.LogLevel == "" {
		ec.LogLevel = "fatal"
	}
	// Port 0 picks free loopback ports, so several servers (tests, a second
	// cluster) coexist; the advertised peer URL is never dialed by a single member.
	listen := url.URL{Scheme: "http", Host: "127.0.0.1:0"}
	advertisePeer := url.URL{Scheme: "http", Host: "127.0.0.1:2380"}
	ec.ListenClientUrls = []url.URL{listen}
	ec.AdvertiseClientUrls = []url.URL{{Scheme: "http", Host: "127.0.0.1:2379"}}
	ec.ListenPeerUrls = []url.URL{listen}
	ec.AdvertisePeerUrls = []url.URL{advertisePeer}
	ec.InitialCluster = ec.Name + "=" + advertisePeer.String()
	// The API server compacts on its own schedule; etcd's metrics listener is not wanted.
	ec.ListenMetricsUrls = nil
	ec.UnsafeNoFsync = cfg.UnsafeNoFsync
	e, err := embed.StartEtcd(ec)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %s: %w", cfg.Dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(startTimeout):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s not ready after %s", cfg.Dir, startTimeout)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	return &Server{etcd: e}, nil
}

// Endpoints returns the client URLs etcd actually listens on.
func (s *Server) Endpoints() []string {
	var eps []string
	for _, l := range s.etcd.Clients {
		eps = append(eps, "http://"+l.Addr().String())
	}
	return eps
}

// Err reports a fatal error of the running server.
func (s *Server) Err() <-chan error { return s.etcd.Err() }

// Close stops etcd and waits for it to release its data directory.
func (s *Server) Close() { s.etcd.Close() }
