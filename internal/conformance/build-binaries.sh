#!/usr/bin/env bash
# Builds the control plane the conformance tests start, at the versions go.mod pins:
# kube-apiserver (from k8s.io/kubernetes) and etcd (from go.etcd.io/etcd/server/v3).
# Further names build more of k8s.io/kubernetes's commands from the same pins (the engine
# tests want kube-controller-manager, kube-scheduler and kubectl).
# Usage: build-binaries.sh [output directory, default ./bin] [command ...]
# Cold, on 2 cores, the control plane takes about 8 minutes; with Go's build cache warm,
# seconds.
set -euo pipefail
cd "$(dirname "$0")"
out=${1:-bin}
shift || true
mkdir -p "$out"

version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)   # v1.37.2
minor=${version#v1.}
minor=${minor%%.*}
ldflags="-X k8s.io/component-base/version.gitVersion=$version"
ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"

for command in kube-apiserver "$@"; do
  go build -ldflags "$ldflags" -o "$out/$command" "k8s.io/kubernetes/cmd/$command"
done
go build -o "$out/etcd" go.etcd.io/etcd/server/v3
"$out/kube-apiserver" --version
"$out/etcd" --version   # no "| head": etcd would die of SIGPIPE, and pipefail with it
