module github.com/lamina-os/lamina-infra/internal/e2e/tools/docker

go 1.26.0

// The Docker engine the Docker target's engine test runs (build-tools.sh builds
// cmd/dockerd and cmd/docker-proxy of it with its own vendor.mod as go.mod). Only the
// pin lives here: moby's module has no go.mod of its own.
require github.com/docker/docker v28.5.1+incompatible
