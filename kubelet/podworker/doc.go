// Package podworker runs one goroutine per pod bound to the node. Each
// worker syncs its pod on every change, on every container exit the runtime
// reports and on a short periodic resync: it sets up the sandbox, starts
// the containers that should run, backs off crashing ones, reports status to
// the API and, when the pod is deleted, stops its containers gracefully,
// removes everything and deletes the pod object.
//
// What to do is decided by pure functions (decide.go, status.go,
// backoff.go, env.go with upstream's service variables from serviceenv.go,
// the pull policy in pull.go), table-tested without an API server or a
// runtime; worker.go and pull.go's ensureImage only wire them to the
// runtime and the API. Images are pulled as upstream's kubelet
// pulls them: per imagePullPolicy, with Pulling/Pulled/Failed events and
// ErrImagePull, then ImagePullBackOff (10 s doubling to 5 min, per pod and
// image) when a pull fails; nothing throttles pulls. A pod's
// imagePullSecrets, read from the API at the pull, give the credentials
// (package credentials matches them to the image); each is tried in turn
// until one pulls, and a secret that cannot be read is reported
// (FailedToRetrieveImagePullSecret) and pulled without.
package podworker
