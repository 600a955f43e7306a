package proxy

import (
	"slices"
	"testing"
)

func TestStableSlots(t *testing.T) {
	tests := []struct {
		name           string
		old, want, out []uint32
	}{
		{"new frontend", nil, []uint32{3, 1, 2}, []uint32{3, 1, 2}},
		{"unchanged", []uint32{1, 2, 3}, []uint32{3, 2, 1}, []uint32{1, 2, 3}},
		{"added at the end", []uint32{1, 2}, []uint32{1, 2, 3}, []uint32{1, 2, 3}},
		{"replacement takes the hole", []uint32{1, 2, 3}, []uint32{1, 3, 4}, []uint32{1, 4, 3}},
		{"removal moves the last into the hole", []uint32{1, 2, 3, 4}, []uint32{1, 3, 4}, []uint32{1, 4, 3}},
		{"removing the last", []uint32{1, 2, 3}, []uint32{1, 2}, []uint32{1, 2}},
		{"two removed", []uint32{1, 2, 3, 4, 5}, []uint32{1, 3, 5}, []uint32{1, 5, 3}},
		{"all removed", []uint32{1, 2}, nil, []uint32{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := stableSlots(tt.old, tt.want)
			if !slices.Equal(got, tt.out) {
				t.Errorf("stableSlots(%v, %v) = %v, want %v", tt.old, tt.want, got, tt.out)
			}
		})
	}
}
