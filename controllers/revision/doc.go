// Package revision names, hashes and orders ControllerRevisions the way
// upstream's controller history does, for the controllers that keep their
// template history in them (StatefulSet, DaemonSet). Matching upstream's hash
// means `kubectl rollout history` and `undo` see the same revision names as on
// an upstream cluster. The functions are pure; the controllers do the writes.
package revision
