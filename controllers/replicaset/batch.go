package replicaset

// burstReplicas caps how many pods one sync creates or deletes, as upstream's
// BurstReplicas does, so one sync never floods the API.
const burstReplicas = 500

// slowStartBatches splits n creations into batches of 1, 2, 4, ... so that a
// template the API refuses costs one failed request, not n.
func slowStartBatches(n int) []int {
	var out []int
	for size := 1; n > 0; size *= 2 {
		if size > n {
			size = n
		}
		out = append(out, size)
		n -= size
	}
	return out
}
