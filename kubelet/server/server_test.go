package server

import "testing"

func TestTail(t *testing.T) {
	data := []byte("a\nb\nc\n")
	for n, want := range map[int64]string{0: "", 1: "c\n", 2: "b\nc\n", 3: "a\nb\nc\n", 10: "a\nb\nc\n"} {
		if got := string(Tail(data, n)); got != want {
			t.Errorf("Tail(%d) = %q, want %q", n, got, want)
		}
	}
	if got := string(Tail([]byte("x\ny"), 1)); got != "y" {
		t.Errorf("Tail without final newline = %q", got)
	}
}
