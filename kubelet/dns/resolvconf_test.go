package dns

import "testing"

func TestPodResolvConf(t *testing.T) {
	got := PodResolvConf("default", "cluster.local", []string{"10.96.0.10"}, []string{"example.internal"})
	want := "nameserver 10.96.0.10\nsearch default.svc.cluster.local svc.cluster.local cluster.local example.internal\noptions ndots:5\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
