// Command echo is the seed session's echo server (image kubeseed/echo): it
// answers every HTTP request on :8080 with a greeting and logs
// "received request", so a user can see with `kubectl logs` which pods a
// Service sends traffic to.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
)

// variant is set at image build time (-X main.variant=patched) for the
// kubeseed/echo:patched tag the seed session rolls out.
var variant = ""

func greeting() string {
	if variant != "" {
		return "Hello Docker!! (" + variant + ")"
	}
	return "Hello Docker!!"
}

func handler(logger *log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logger.Println("received request")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, greeting())
	})
}

func main() {
	addr := flag.String("addr", ":8080", "listen address")
	flag.Parse()
	logger := log.New(os.Stdout, "", log.LstdFlags)
	logger.Println("start server")
	if err := http.ListenAndServe(*addr, handler(logger)); err != nil {
		logger.Fatal(err)
	}
}
