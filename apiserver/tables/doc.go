// Package tables renders objects as the server-side tables `kubectl get`
// prints, with upstream's columns (and the extra `-o wide` columns at
// priority 1) for each kind kubeseed serves.
package tables
