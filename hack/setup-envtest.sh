#!/usr/bin/env bash
# Builds the upstream control-plane binaries envtest and the e2e suites use
# (kube-apiserver, etcd, kubectl) from the Go module proxy, because the
# download sites setup-envtest relies on are unreachable here.
#
# k8s.io/kubernetes cannot be `go install`ed (its go.mod replaces every
# k8s.io/* module with ./staging, which the module zip does not contain), so
# we build inside a throwaway module that pins the published staging modules
# instead. Idempotent: when every binary reports the wanted version it only
# prints the directory. The last line of output is the KUBEBUILDER_ASSETS dir.
#
# ENVTEST_EXTRA="kube-scheduler kube-controller-manager" also builds those
# (for the benchmarks that compare kubeseed's controllers with upstream's).
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${ENVTEST_DIR:-$root/bin/k8s/$K8S_VERSION}"
work="$root/bin/.build/k8s-$K8S_VERSION"
staging_version="v0.${K8S_VERSION#*.}"   # 1.37.1 -> v0.37.1

log() { echo "setup-envtest: $*" >&2; }

command -v go >/dev/null || { echo "setup-envtest: go is not installed (need go >= 1.26; see README)" >&2; exit 1; }

etcd_wanted() {
  grep -E '^\s*go.etcd.io/etcd/server/v3 ' "$work/kubernetes.mod" | awk '{print $2}' | head -1
}

# reports CMD... LINE: CMD runs and prints LINE as one of its output lines.
# (No pipe into grep -q: with pipefail, its early exit would fail the check.)
reports() {
  local want="${*: -1}" out
  out="$("${@:1:$#-1}" 2>/dev/null)" || return 1
  [[ $'\n'"$out"$'\n' == *$'\n'"$want"$'\n'* ]]
}

extras=(${ENVTEST_EXTRA:-})

extras_up_to_date() {
  local x
  for x in "${extras[@]}"; do
    reports "$dest/$x" --version "Kubernetes v$K8S_VERSION" || return 1
  done
}

up_to_date() { extras_up_to_date && base_up_to_date; }

base_up_to_date() {
  [ -x "$dest/kube-apiserver" ] && [ -x "$dest/etcd" ] && [ -x "$dest/kubectl" ] && [ -f "$dest/etcd.version" ] || return 1
  reports "$dest/kube-apiserver" --version "Kubernetes v$K8S_VERSION" || return 1
  reports "$dest/kubectl" version --client "Client Version: v$K8S_VERSION" || return 1
  reports "$dest/etcd" --version "etcd Version: $(cat "$dest/etcd.version")" || return 1
}

if up_to_date; then
  echo "$dest"
  exit 0
fi

mkdir -p "$dest" "$work"
cd "$work"

# The kubernetes go.mod tells which staging modules to pin and which etcd it uses.
log "resolving k8s.io/kubernetes@v$K8S_VERSION from the module proxy"
modfile="$(GOFLAGS=-mod=mod go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/^\s*"GoMod": "\(.*\)",$/\1/p')"
cp "$modfile" kubernetes.mod
chmod u+w kubernetes.mod
go_directive="$(awk '$1=="go"{print $2; exit}' kubernetes.mod)"
etcd_version="$(etcd_wanted)"

{
  echo "module kubeseed.local/envtest-build"
  echo
  echo "go $go_directive"
  echo
  echo "require ("
  echo "	k8s.io/kubernetes v$K8S_VERSION"
  echo "	go.etcd.io/etcd/server/v3 $etcd_version"
  echo ")"
  echo
  echo "replace ("
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\t\1 => \1 '"$staging_version"'#p' kubernetes.mod
  echo ")"
} > go.mod

cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
for x in "${extras[@]}"; do
  echo "import _ \"k8s.io/kubernetes/cmd/$x\"" >> tools.go
done

log "go mod tidy (first run downloads a few hundred modules)"
GOFLAGS=-mod=mod go mod tidy >/dev/null

pkg_version="k8s.io/component-base/version"
client_version="k8s.io/client-go/pkg/version"
ldflags="-s -w"
for p in "$pkg_version" "$client_version"; do
  ldflags="$ldflags -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=${K8S_VERSION%%.*}"
  minor="${K8S_VERSION#*.}"; minor="${minor%%.*}"
  ldflags="$ldflags -X $p.gitMinor=$minor -X $p.gitTreeState=clean"
done

export CGO_ENABLED=0
for x in "${extras[@]}"; do
  reports "$dest/$x" --version "Kubernetes v$K8S_VERSION" && continue
  log "building $x v$K8S_VERSION"
  go build -trimpath -ldflags "$ldflags" -o "$dest/$x" "k8s.io/kubernetes/cmd/$x"
done
if base_up_to_date; then
  echo "$dest"
  exit 0
fi
log "building kube-apiserver v$K8S_VERSION (cold: 4-7 min on 2 cores)"
go build -trimpath -ldflags "$ldflags" -o "$dest/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
log "building kubectl v$K8S_VERSION"
go build -trimpath -ldflags "$ldflags" -o "$dest/kubectl" k8s.io/kubernetes/cmd/kubectl
log "building etcd $etcd_version"
go build -trimpath -ldflags "-s -w" -o "$dest/etcd" go.etcd.io/etcd/server/v3
echo "${etcd_version#v}" > "$dest/etcd.version"

up_to_date || { log "built binaries do not report the wanted versions"; exit 1; }
echo "$dest"
