// Package validation checks objects the way upstream's API server does for the
// mistakes users make most: names, container and port fields, selectors that
// must match their template, and immutable fields. Errors carry upstream's
// field paths and messages, so a 422 reads the same as against kube-apiserver.
package validation
