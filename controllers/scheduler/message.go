package scheduler

import (
	"fmt"
	"sort"
	"strings"
)

// FitErrorMessage is upstream's summary of why no node fits: the number of
// nodes, then each reason prefixed with how many nodes gave it, sorted, as in
// "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu.".
// With no nodes at all upstream says so instead.
func FitErrorMessage(numNodes int, reasons map[string]int) string {
	return fitErrorMessage(numNodes, "", reasons)
}

// fitErrorMessage puts a pre-filter rejection, which applies to every node,
// in place of the per-node reasons, as upstream does.
func fitErrorMessage(numNodes int, preFilter string, reasons map[string]int) string {
	if numNodes == 0 {
		return "no nodes available to schedule pods"
	}
	msg := fmt.Sprintf("0/%v nodes are available:", numNodes)
	if preFilter != "" {
		return msg + " " + preFilter + "."
	}
	parts := make([]string, 0, len(reasons))
	for r, n := range reasons {
		parts = append(parts, fmt.Sprintf("%v %v", n, r))
	}
	sort.Strings(parts)
	if len(parts) > 0 {
		msg += " " + strings.Join(parts, ", ") + "."
	}
	return msg
}
