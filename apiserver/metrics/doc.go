// Package metrics serves the resource metrics API (metrics.k8s.io/v1beta1,
// NodeMetrics and PodMetrics) that `kubectl top` and the horizontal pod
// autoscaler read, inside the API server, as k3s bundles metrics-server.
//
// A Scraper asks every node agent for its /metrics/resource (the kubelet's
// Prometheus endpoint, over the same client certificate as logs and exec)
// every Interval and keeps the last two samples of each node and container;
// usage is the CPU rate between them (or since the container started, for
// a container seen once) and the latest working set, as metrics-server
// computes it. Until a node has been scraped twice it has no metrics and the
// API answers NotFound, as metrics-server does.
package metrics
