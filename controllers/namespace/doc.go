// Package namespace empties and releases terminating namespaces, as upstream's
// namespace controller does: for a Namespace with a deletionTimestamp it finds
// every namespaced resource the API serves (discovery), deletes that content,
// reports progress in the five NamespaceDeletion*/NamespaceContentRemaining/
// NamespaceFinalizersRemaining conditions with upstream's reasons and messages
// (conditions.go, pure and table-tested), and once nothing remains removes the
// "kubernetes" finalizer through the namespaces/finalize subresource so the
// API server can delete the namespace.
package namespace
