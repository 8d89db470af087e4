package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/internal/filegraph"
)

// The package reads from the top down: load.go calls validate.go, which calls one
// validator per section (validate_*.go), which call the shared checks, capacity and the
// network layout, which read the profiles and the types, under which sit the problems
// and the quantities. A file uses only files of lower layers; only the type tree's
// files (a Config holds its sections, and their methods read the Config) refer to one
// another. A new file gets its layer here.
func TestFilesCallOnlyDownward(t *testing.T) {
	layers := [][]string{
		{"problems.go", "quantity.go", "probes.go"},
		{"config.go", "config_agents.go", "config_build.go", "config_docker.go", "config_mesh.go", "config_monitoring.go", "config_storage.go", "charts.go", "source.go"},
		{"profiles.go"},
		{"network.go", "capacity.go", "checks.go"},
		{"validate_agents.go", "validate_build.go", "validate_charts.go", "validate_docker.go", "validate_gpu.go", "validate_mesh.go", "validate_monitoring.go", "validate_storage.go"},
		{"validate.go"},
		{"load.go"},
	}
	g, err := filegraph.Load(".")
	require.NoError(t, err)
	assert.Empty(t, g.Against(layers, 1), "layer 1 is the type tree")
}
