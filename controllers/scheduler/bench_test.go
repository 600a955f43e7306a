package scheduler

import (
	"fmt"
	"testing"
)

// BenchmarkScheduleAndAssume places pods one after another on 5000 nodes
// holding 2 pods each, as a burst would: the cost of one scheduling decision.
func BenchmarkScheduleAndAssume(b *testing.B) {
	c := NewCache()
	for i := range 5000 {
		name := fmt.Sprintf("node-%d", i)
		c.SetNode(node(name, "32", "64Gi"))
		for j := range 2 {
			c.SetPod(pod(fmt.Sprintf("existing-%d-%d", i, j), "100m", "100Mi", onNode(name)))
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if name, _, _ := c.ScheduleAndAssume(pod(fmt.Sprintf("p-%d", i), "10m", "10Mi"), nil, nil); name == "" {
			b.Fatal("unschedulable")
		}
	}
}
