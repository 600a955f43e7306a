// Package bpf holds the service proxy's datapath: cgroup sock_addr programs
// (c/lb.c) that rewrite a Service's virtual IP and port to a backend on
// connect and sendmsg and back on recvmsg and getpeername, for IPv4 sockets
// and IPv4-mapped addresses on dual-stack sockets. The C source sits in a
// subdirectory because the go tool refuses C files in a package without cgo.
//
// The bpf2go output (lb_bpfel.go, lb_bpfel.o) is committed so that building
// kubeseed needs no clang; `go generate ./kubelet/proxy/bpf` (clang-14 from
// Debian's clang-14, llvm and libbpf-dev packages) regenerates it, and
// hack/check-bpf-generate.sh checks that the committed output is current.
package bpf

// Without clang-14 `go generate` keeps the committed output and says so, so
// that `make generate` works on machines that only build.
//go:generate sh -c "if ! command -v clang-14 >/dev/null; then echo 'kubelet/proxy/bpf: clang-14 not installed: keeping the committed bpf2go output'; exit 0; fi; exec go tool bpf2go -cc clang-14 -strip llvm-strip -target bpfel -no-global-types Lb c/lb.c -- -O2 -g -Wall -Werror -I/usr/include/x86_64-linux-gnu"
