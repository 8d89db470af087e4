#!/usr/bin/env bash
# Builds every tool the engine tests run, each at the version this directory pins, into
# one directory (default ./bin), and prints how long each took:
#   pulumi                        the CLI (tools/pulumi: github.com/pulumi/pulumi/pkg/v3)
#   pulumi-language-go            the Go language host (runtime: go), from ../shared/sources
#   pulumi-resource-kubernetes    the Kubernetes provider (tools/kubernetes)
#   pulumi-resource-command       the command provider, from ../shared/sources
#   pulumi-analyzer-policy-opa    the OPA policy analyzer, from ../shared/sources
#   kwok, kwok-stages.yaml        the simulated kubelet and its stages (tools/kwok)
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl
#                                 from internal/conformance's pins (k8s.io/kubernetes)
# The plugin versions are those the program's SDKs ask the engine for (go.mod at the
# root); a source of another version is refused.
# Usage: build-tools.sh [output directory]   (LAMINA_SOURCES overrides ../shared/sources)
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
root=$(cd ../.. && pwd)
mkdir -p "${1:-bin}"
out=$(cd "${1:-bin}" && pwd)
sources=${LAMINA_SOURCES:-$(cd "$root/.." && pwd)/shared/sources}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

timed() {
  local name=$1 begin=$SECONDS
  shift
  "$@"
  printf 'built %s in %ss\n' "$name" "$((SECONDS - begin))"
}

# module_dir DIR MODULE: where MODULE, as the module in DIR pins it, is in the module
# cache, downloading it first (go list leaves .Dir empty for a module not downloaded).
module_dir() { (cd "$1" && go mod download "$2" && go list -m -f '{{.Dir}}' "$2"); }

# sdk_version MODULE: the version of a Pulumi SDK the program requires, without the v.
sdk_version() { (cd "$root" && go list -m -f '{{.Version}}' "$1") | sed 's/^v//'; }

# unpack ARCHIVE: extract one of ../shared/sources into the work directory.
unpack() {
  if [ ! -f "$sources/$1" ]; then
    printf 'build-tools: %s is not in %s (set LAMINA_SOURCES)\n' "$1" "$sources" >&2
    exit 1
  fi
  tar -xzf "$sources/$1" -C "$work"
}

pulumi_version=$(cd tools/pulumi && go list -m -f '{{.Version}}' github.com/pulumi/pulumi/pkg/v3)
timed pulumi bash -c "cd tools/pulumi && go build -ldflags '-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$pulumi_version' \
  -o '$out/pulumi' github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"

unpack "pulumi-language-go-$pulumi_version.tar.gz"
timed pulumi-language-go bash -c "cd '$work/pulumi-language-go' && GOFLAGS=-mod=mod go build \
  -ldflags '-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$pulumi_version' -o '$out/pulumi-language-go' ."

kubernetes=$(sdk_version github.com/pulumi/pulumi-kubernetes/sdk/v4)
provider=$(module_dir tools/kubernetes github.com/pulumi/pulumi-kubernetes/provider/v4)
mkdir -p "$work/kubernetes"
cp -R tools/kubernetes/. "$work/kubernetes/"
(cd tools/kubernetes && go run ./embed "$provider/cmd/pulumi-resource-kubernetes" "$work/kubernetes" "$kubernetes")
timed pulumi-resource-kubernetes bash -c "cd '$work/kubernetes' && go build -ldflags '-X main.version=$kubernetes' -o '$out/pulumi-resource-kubernetes' ."

command=$(sdk_version github.com/pulumi/pulumi-command/sdk)
unpack "pulumi-command-v$command-provider.tar.gz"
timed pulumi-resource-command bash -c "cd '$work/pulumi-command/provider' && GOFLAGS=-mod=mod go build \
  -ldflags '-X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$command' -o '$out/pulumi-resource-command' ./cmd/pulumi-resource-command"

unpack pulumi-policy-opa-v0.1.0.tar.gz
timed pulumi-analyzer-policy-opa bash -c "cd '$work/pulumi-policy-opa' && GOFLAGS=-mod=mod go build -o '$out/pulumi-analyzer-policy-opa' ./cmd/pulumi-analyzer-policy-opa"

timed kwok bash -c "cd tools/kwok && go build -o '$out/kwok' sigs.k8s.io/kwok/cmd/kwok"
stages=$(module_dir tools/kwok sigs.k8s.io/kwok)/kustomize/stage
for stage in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
  printf -- '---\n'
  cat "$stages/$stage.yaml"
done >"$out/kwok-stages.yaml"

timed "the control plane and kubectl" "$root/internal/conformance/build-binaries.sh" "$out" kube-controller-manager kube-scheduler kubectl
printf 'plugins: kubernetes %s, command %s; pulumi %s\n' "$kubernetes" "$command" "$pulumi_version"
