package relay

import (
	"context"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// echoServer echoes what each connection sends until the client
// half-closes, then writes "bye" and closes.
func echoServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
				_, _ = c.Write([]byte("bye"))
			}()
		}
	}()
	return l.Addr().String()
}

// startRelay runs a relay to an echo server; the returned channel is
// closed once Run returned, its error then in *runErr.
func startRelay(t *testing.T, sources ...netip.Prefix) (r *Relay, stop context.CancelFunc, done <-chan struct{}, runErr *error) {
	t.Helper()
	r, err := New(Config{Listen: netip.MustParseAddrPort("127.0.0.1:0"), Target: echoServer(t), Sources: sources})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ch := make(chan struct{})
	runErr = new(error)
	go func() { *runErr = r.Run(ctx); close(ch) }()
	t.Cleanup(func() { cancel(); <-ch })
	return r, cancel, ch, runErr
}

func dial(t *testing.T, r *Relay) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp4", r.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn)
}

func TestRelayForwardsBothWaysWithHalfClose(t *testing.T) {
	r, _, _, _ := startRelay(t, netip.MustParsePrefix("127.0.0.0/8"))
	c := dial(t, r)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("echo = %q, %v", buf, err)
	}
	// The client's end of writing reaches the target, which still answers.
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(c)
	if err != nil || string(rest) != "bye" {
		t.Fatalf("after half-close = %q, %v", rest, err)
	}
}

func TestRelayRefusesOtherSources(t *testing.T) {
	r, _, _, _ := startRelay(t, netip.MustParsePrefix("10.244.0.0/24"))
	c := dial(t, r)
	_, _ = c.Write([]byte("hello"))
	b, err := io.ReadAll(c)
	if len(b) != 0 {
		t.Fatalf("a client outside the sources got %q (%v)", b, err)
	}
}

func TestRelayStopClosesConnections(t *testing.T) {
	r, cancel, done, runErr := startRelay(t, netip.MustParsePrefix("127.0.0.0/8"))
	c := dial(t, r)
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case <-done:
		if *runErr != nil {
			t.Fatalf("Run after stop = %v", *runErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	// The connection in flight was closed: the read ends rather than
	// waiting for the deadline.
	start := time.Now()
	_, _ = io.ReadAll(c)
	if time.Since(start) > 5*time.Second {
		t.Error("a connection in flight outlived the relay")
	}
	if _, err := net.DialTimeout("tcp4", r.Addr().String(), time.Second); err == nil {
		t.Error("the relay still accepts after stop")
	}
}

// The pod bridge has no address until the first pod starts: the relay
// listens on it all the same.
func TestRelayListensOnAnAddressNotYetPresent(t *testing.T) {
	r, err := New(Config{Listen: netip.MustParseAddrPort("198.51.100.1:0"), Target: "127.0.0.1:1",
		Sources: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}})
	if err != nil {
		t.Fatal(err)
	}
	r.l.Close()
}
