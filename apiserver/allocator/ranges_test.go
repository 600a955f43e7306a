package allocator

import "testing"

func TestIPRange(t *testing.T) {
	r, err := ParseIPRange("10.96.0.0/12")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.FirstIP(); got != "10.96.0.1" {
		t.Errorf("FirstIP = %s, want 10.96.0.1", got)
	}
	if got, want := r.Size(), 1<<20-2; got != want {
		t.Errorf("Size = %d, want %d", got, want)
	}
	if got := r.Value(r.Size() - 1); got != "10.111.255.254" {
		t.Errorf("last = %s, want 10.111.255.254", got)
	}
	for _, tc := range []struct {
		ip string
		i  int
		ok bool
	}{
		{"10.96.0.1", 0, true},
		{"10.96.1.0", 255, true},
		{"10.96.0.0", 0, false},
		{"10.111.255.255", 0, false},
		{"10.112.0.1", 0, false},
		{"nonsense", 0, false},
	} {
		i, ok := r.Index(tc.ip)
		if ok != tc.ok || (ok && i != tc.i) {
			t.Errorf("Index(%s) = %d,%v want %d,%v", tc.ip, i, ok, tc.i, tc.ok)
		}
	}
	if got := r.DynamicStart(); got != 256 {
		t.Errorf("DynamicStart = %d, want 256", got)
	}
	small, _ := ParseIPRange("10.0.0.0/29")
	if got := small.DynamicStart(); got != 0 {
		t.Errorf("DynamicStart of /29 = %d, want 0", got)
	}
}

func TestPortRange(t *testing.T) {
	r, err := ParsePortRange("30000-32767")
	if err != nil {
		t.Fatal(err)
	}
	if r.Size() != 2768 || r.Value(0) != "30000" {
		t.Errorf("got size %d first %s", r.Size(), r.Value(0))
	}
	if _, ok := r.Index("32768"); ok {
		t.Error("32768 must be out of range")
	}
	for _, bad := range []string{"", "1", "5-3", "0-10", "1-70000", "a-b"} {
		if _, err := ParsePortRange(bad); err == nil {
			t.Errorf("ParsePortRange(%q) succeeded", bad)
		}
	}
}

func TestPick(t *testing.T) {
	r := &PortRange{Base: 100, Count: 4}
	for _, tc := range []struct {
		name  string
		used  map[int]bool
		start int
		want  int
		ok    bool
	}{
		{"free start", nil, 2, 2, true},
		{"skips used", map[int]bool{2: true}, 2, 3, true},
		{"wraps", map[int]bool{2: true, 3: true}, 2, 0, true},
		{"start beyond size wraps", nil, 9, 1, true},
		{"full", map[int]bool{0: true, 1: true, 2: true, 3: true}, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := pick(r, tc.used, tc.start)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("pick = %d,%v want %d,%v", got, ok, tc.want, tc.ok)
			}
		})
	}
	ips, _ := ParseIPRange("10.0.0.0/24") // 254 usable, lower band of 16
	if i, _ := pick(ips, nil, 3); i < 16 {
		t.Errorf("dynamic pick %d fell into the static band", i)
	}
}

func TestLeaked(t *testing.T) {
	claims := map[string]Claim{
		"10.96.0.1":  {Owner: "default/kubernetes", Revision: 5},
		"10.96.1.7":  {Owner: "default/gone", Revision: 8},
		"10.96.1.9":  {Owner: "default/inflight", Revision: 12},
		"10.96.1.10": {Owner: "default/kept", Revision: 9},
	}
	inUse := map[string]bool{"10.96.0.1": true, "10.96.1.10": true}
	got := Leaked(claims, inUse, 10)
	if len(got) != 1 || got[0] != "10.96.1.7" {
		t.Errorf("Leaked = %v, want [10.96.1.7]", got)
	}
}
