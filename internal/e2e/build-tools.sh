#!/usr/bin/env bash
# Puts every tool the conformance and engine tests run, each at the version this
# repository pins, into one directory (default ./bin), through the build cache of
# toolcache.sh (${XDG_CACHE_HOME:-$HOME/.cache}/lamina/tools): a tool whose pins, recipe
# and Go are unchanged is not built again, in this clone or any other. One line per tool
# says whether it came from the cache or how long its build took, and its key.
#
#   pulumi                      the CLI (tools/pulumi: github.com/pulumi/pulumi/pkg/v3)
#   pulumi-language-go          the Go language host (runtime: go), from ../shared/sources
#   pulumi-resource-kubernetes  the Kubernetes provider (tools/kubernetes)
#   pulumi-resource-command     the command provider, from ../shared/sources
#   pulumi-resource-docker      the Docker provider, from ../shared/sources
#   pulumi-analyzer-policy-opa  the OPA policy analyzer, from ../shared/sources
#   cluster                     etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
#                               kubectl and kwok (the simulated kubelet) with its stages, in
#                               one build of internal/conformance's pins
#   dockerd                     the Docker engine (dockerd, docker-proxy), tools/docker's pin
#   local-path-provisioner      rancher's local-path provisioner (tools/localpath), run out of
#                               cluster as the simulated multi-node cluster's provisioner
#
# The plugin versions are those the program's SDKs ask the engine for (go.mod at the
# root); a source archive of another version is refused.
# Usage: build-tools.sh [output directory] [tool ...]   (default: every tool)
#   LAMINA_SOURCES overrides ../shared/sources; LAMINA_TOOL_CACHE the cache's directory.
set -euo pipefail
# Every tool builds with the same flags whoever asks (.ci/run, make e2e, make tools), so
# that they all share the cache's entries: -trimpath, as .ci/run builds everything.
export GOFLAGS=-trimpath
# The output directory, relative to where this is run from (default: bin beside this).
mkdir -p "${1:-$(dirname "$0")/bin}"
out=$(cd "${1:-$(dirname "$0")/bin}" && pwd)
shift || true
cd "$(dirname "$0")"
here=$(pwd)
root=$(cd ../.. && pwd)
sources=${LAMINA_SOURCES:-$(cd "$root/.." && pwd)/shared/sources}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. ./toolcache.sh

# module_dir DIR MODULE: where MODULE, as the module in DIR pins it, is in the module
# cache, downloading it first (go list leaves .Dir empty for a module not downloaded).
module_dir() { (cd "$1" && go mod download "$2" && go list -m -f '{{.Dir}}' "$2"); }

# pinned DIR MODULE: the version of MODULE that the module in DIR requires, without the v.
pinned() { (cd "$1" && go list -m -f '{{.Version}}' "$2") | sed 's/^v//'; }

# archive NAME: the path of one of ../shared/sources, or an error naming it.
archive() {
  if [ ! -f "$sources/$1" ]; then
    printf 'build-tools: %s is not in %s (set LAMINA_SOURCES)\n' "$1" "$sources" >&2
    exit 1
  fi
  printf '%s\n' "$sources/$1"
}

# unpack ARCHIVE: extract one of ../shared/sources into a new directory, printed.
unpack() {
  local dir
  dir=$(mktemp -d "$work/src.XXXXXX")
  tar -xzf "$(archive "$1")" -C "$dir"
  printf '%s\n' "$dir"
}

# Every tool is linked without its symbol table and DWARF (-s -w, as the Docker
# provider's own recipe does): nothing here debugs them, and their links are the
# slowest. Helpers every recipe uses: their text is part of every key.
tool_cache_helpers="module_dir pinned archive unpack"

pulumi_version=v$(pinned tools/pulumi github.com/pulumi/pulumi/pkg/v3)
kubernetes_version=$(pinned "$root" github.com/pulumi/pulumi-kubernetes/sdk/v4)
command_version=$(pinned "$root" github.com/pulumi/pulumi-command/sdk)
docker_version=$(pinned "$root" github.com/pulumi/pulumi-docker/sdk/v4)
moby_version=$(pinned tools/docker github.com/docker/docker)
localpath_version=v$(pinned tools/localpath github.com/rancher/local-path-provisioner)

build_pulumi() {
  (cd "$here/tools/pulumi" && go build -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$pulumi_version" \
    -o "$1/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
}

build_language_go() {
  local src
  src=$(unpack "pulumi-language-go-$pulumi_version.tar.gz")
  (cd "$src/pulumi-language-go" && GOFLAGS="${GOFLAGS:-} -mod=mod" go build \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$pulumi_version" -o "$1/pulumi-language-go" .)
}

build_kubernetes() {
  local provider
  provider=$(module_dir "$here/tools/kubernetes" github.com/pulumi/pulumi-kubernetes/provider/v4)
  mkdir -p "$work/kubernetes"
  cp -R "$here/tools/kubernetes/." "$work/kubernetes/"
  (cd "$here/tools/kubernetes" && go run ./embed "$provider/cmd/pulumi-resource-kubernetes" "$work/kubernetes" "$kubernetes_version")
  (cd "$work/kubernetes" && go build -ldflags "-s -w -X main.version=$kubernetes_version" -o "$1/pulumi-resource-kubernetes" .)
}

build_command() {
  local src
  src=$(unpack "pulumi-command-v$command_version-provider.tar.gz")
  (cd "$src/pulumi-command/provider" && GOFLAGS="${GOFLAGS:-} -mod=mod" go build \
    -ldflags "-s -w -X github.com/pulumi/pulumi-command/provider/pkg/version.Version=$command_version" \
    -o "$1/pulumi-resource-command" ./cmd/pulumi-resource-command)
}

# The Docker provider as ../shared/sources/README.md builds it: generate.go writes the
# schema it embeds, then a static build.
build_docker() {
  local src
  src=$(unpack "pulumi-docker-v$docker_version.tar.gz")
  (cd "$src/pulumi-docker/provider/cmd/pulumi-resource-docker" && VERSION=$docker_version GOFLAGS="${GOFLAGS:-} -mod=mod" go run ./generate.go)
  (cd "$src/pulumi-docker/provider" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=mod" go build \
    -ldflags "-X github.com/pulumi/pulumi-docker/provider/v4/pkg/version.Version=$docker_version -s -w" \
    -o "$1/pulumi-resource-docker" ./cmd/pulumi-resource-docker)
}

build_analyzer() {
  local src
  src=$(unpack pulumi-policy-opa-v0.1.0.tar.gz)
  (cd "$src/pulumi-policy-opa" && GOFLAGS="${GOFLAGS:-} -mod=mod" go build -ldflags "-s -w" -o "$1/pulumi-analyzer-policy-opa" ./cmd/pulumi-analyzer-policy-opa)
}

# The cluster in one build of internal/conformance's pins: the control plane, kubectl and
# kwok (the simulated kubelet) share nearly every package. kwok's stages come from its
# module.
build_cluster() {
  local version minor ldflags stages stage
  version=v$(pinned "$root/internal/conformance" k8s.io/kubernetes)
  minor=${version#v1.}
  minor=${minor%%.*}
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
  (cd "$root/internal/conformance" && go build -ldflags "$ldflags" -o "$1/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl go.etcd.io/etcd/server/v3 \
    sigs.k8s.io/kwok/cmd/kwok)
  mv "$1/server" "$1/etcd"
  stages=$(module_dir "$root/internal/conformance" sigs.k8s.io/kwok)/kustomize/stage
  for stage in node/fast/node-initialize node/heartbeat/node-heartbeat pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    printf -- '---\n'
    cat "$stages/$stage.yaml"
  done >"$1/kwok-stages.yaml"
  "$1/kube-apiserver" --version
  "$1/etcd" --version   # no "| head": etcd would die of SIGPIPE, and pipefail with it
}

# dockerd and docker-proxy as ../shared/sources/README.md builds them: moby's own
# dependency pins (vendor.mod) as the module's, a static build.
build_dockerd() {
  local src
  src=$(module_dir "$here/tools/docker" github.com/docker/docker)
  cp -R "$src" "$work/moby"
  chmod -R u+w "$work/moby"
  rm -rf "$work/moby/vendor"
  cp "$work/moby/vendor.mod" "$work/moby/go.mod"
  cp "$work/moby/vendor.sum" "$work/moby/go.sum"
  (cd "$work/moby" && CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -mod=mod" go build -tags "netgo osusergo static_build" \
    -ldflags "-s -w -X github.com/docker/docker/dockerversion.Version=${moby_version%+incompatible}" \
    -o "$1/" ./cmd/dockerd ./cmd/docker-proxy)
  "$1/dockerd" --version
}

# The local-path provisioner as its scripts/build builds it: the module's root package
# (its main), static, main.VERSION set to the release.
build_localpath() {
  (cd "$here/tools/localpath" && CGO_ENABLED=0 go build -ldflags "-s -w -X main.VERSION=$localpath_version" \
    -o "$1/local-path-provisioner" github.com/rancher/local-path-provisioner)
  "$1/local-path-provisioner" --version
}

build() {
  case $1 in
    pulumi) cached pulumi build_pulumi "$out" tools/pulumi/go.mod tools/pulumi/go.sum "$pulumi_version" ;;
    pulumi-language-go)
      cached pulumi-language-go build_language_go "$out" "$(archive "pulumi-language-go-$pulumi_version.tar.gz")" "$pulumi_version" ;;
    pulumi-resource-kubernetes)
      cached pulumi-resource-kubernetes build_kubernetes "$out" tools/kubernetes/go.mod tools/kubernetes/go.sum \
        tools/kubernetes/main.go tools/kubernetes/embed/main.go "$kubernetes_version" ;;
    pulumi-resource-command)
      cached pulumi-resource-command build_command "$out" "$(archive "pulumi-command-v$command_version-provider.tar.gz")" "$command_version" ;;
    pulumi-resource-docker)
      cached pulumi-resource-docker build_docker "$out" "$(archive "pulumi-docker-v$docker_version.tar.gz")" "$docker_version" ;;
    pulumi-analyzer-policy-opa) cached pulumi-analyzer-policy-opa build_analyzer "$out" "$(archive pulumi-policy-opa-v0.1.0.tar.gz)" ;;
    cluster) cached cluster build_cluster "$out" "$root/internal/conformance/go.mod" "$root/internal/conformance/go.sum" ;;
    dockerd) cached dockerd build_dockerd "$out" tools/docker/go.mod tools/docker/go.sum ;;
    local-path-provisioner)
      cached local-path-provisioner build_localpath "$out" tools/localpath/go.mod tools/localpath/go.sum "$localpath_version" ;;
    *)
      printf 'build-tools: no tool %s (pulumi pulumi-language-go pulumi-resource-kubernetes pulumi-resource-command pulumi-resource-docker pulumi-analyzer-policy-opa cluster dockerd local-path-provisioner)\n' "$1" >&2
      exit 2
      ;;
  esac
}

# The cluster first: the conformance tests want its control plane before anything else.
all="cluster pulumi pulumi-language-go pulumi-resource-kubernetes pulumi-resource-command pulumi-resource-docker pulumi-analyzer-policy-opa dockerd local-path-provisioner"
printf 'tool cache: %s\n' "$tool_cache"
for tool in ${*:-$all}; do build "$tool"; done
printf 'plugins: kubernetes %s, command %s, docker %s; pulumi %s; docker engine %s\n' \
  "$kubernetes_version" "$command_version" "$docker_version" "$pulumi_version" "$moby_version"
