#!/usr/bin/env bash
# Checks that the committed bpf2go output (kubelet/proxy/bpf/lb_bpfel.{go,o})
# is what `go generate` produces from c/lb.c. Needs clang-14, llvm-strip and
# libbpf headers (apt-get install -y clang-14 llvm libbpf-dev); without them it
# says so and exits 0, since `go build` needs only the committed output.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=kubelet/proxy/bpf
if ! command -v clang-14 >/dev/null || ! command -v llvm-strip >/dev/null || [ ! -e /usr/include/bpf/bpf_helpers.h ]; then
	echo "check-bpf-generate: clang-14, llvm-strip or libbpf headers missing: skipped"
	exit 0
fi
tmp=$(mktemp -d)
trap 'cp "$tmp"/lb_bpfel.* "$dir"/ 2>/dev/null || true; rm -rf "$tmp"' EXIT
cp "$dir"/lb_bpfel.go "$dir"/lb_bpfel.o "$tmp"/
go generate ./$dir
status=0
for f in lb_bpfel.go lb_bpfel.o; do
	if ! cmp -s "$dir/$f" "$tmp/$f"; then
		echo "check-bpf-generate: $dir/$f is stale: run 'go generate ./$dir' and commit it"
		status=1
	fi
done
if [ "$status" = 0 ]; then
	echo "check-bpf-generate: $dir output is current"
fi
exit "$status"
