// Package endpoints keeps the endpoints of every Service with a selector in
// step with its pods, as upstream's endpointslice-controller and
// endpoints-controller do together: EndpointSlices (through upstream's own
// reconciler from k8s.io/endpointslice, so labels, conditions, named-port
// resolution, 100-endpoint slices and placeholder slices are upstream's) and
// the legacy Endpoints object that `kubectl get endpoints` shows, computed by
// the pure function Desired in legacy.go. Services without a selector are
// left alone: their endpoints belong to the user.
package endpoints
