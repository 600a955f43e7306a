// Command nginx-proxy stands in for the seed session's nginx reverse proxy
// (image kubeseed/nginx-proxy): it listens on :80 and forwards every request
// to http://$BACKEND_HOST, logging one access line per request.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"
)

func proxy(backendHost string, logger *log.Logger) (http.Handler, error) {
	if backendHost == "" {
		return nil, fmt.Errorf("BACKEND_HOST is not set (e.g. localhost:8080)")
	}
	if host, port, err := net.SplitHostPort(backendHost); err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("BACKEND_HOST %q is not host:port", backendHost)
	}
	target := &url.URL{Scheme: "http", Host: backendHost}
	rp := httputil.NewSingleHostReverseProxy(target)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		start := time.Now()
		rp.ServeHTTP(rec, r)
		logger.Printf("%s - - \"%s %s %s\" %d %s", r.RemoteAddr, r.Method, r.URL.RequestURI(), r.Proto, rec.status, time.Since(start).Round(time.Microsecond))
	}), nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func main() {
	addr := flag.String("addr", ":80", "listen address")
	flag.Parse()
	logger := log.New(os.Stdout, "", log.LstdFlags)
	h, err := proxy(os.Getenv("BACKEND_HOST"), logger)
	if err != nil {
		logger.Fatal(err)
	}
	logger.Printf("forwarding %s to %s", *addr, os.Getenv("BACKEND_HOST"))
	if err := http.ListenAndServe(*addr, h); err != nil {
		logger.Fatal(err)
	}
}
