#!/usr/bin/env bash
# Installs, idempotently, the Debian packages kubeseed needs at run and test
# time: containerd and runc run pods, containernetworking-plugins gives the CNI
# bridge/host-local/loopback plugins, iproute2 manages routes and netns, and
# busybox-static is the source of the busybox image `kubeseed up` imports.
# Does nothing when everything is present; says in one line what is wrong when
# it cannot install (not root, not Debian).
set -euo pipefail

packages=(containerd runc containernetworking-plugins iproute2 busybox-static ca-certificates)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ ! -r /etc/debian_version ] || ! command -v apt-get >/dev/null; then
  echo "install-deps: not a Debian system: install ${missing[*]} with your package manager" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when they are absent or older than a day.
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null | head -1)" ]; then
  apt-get update -qq
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
