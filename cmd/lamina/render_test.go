package main

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The Docker target has no Kubernetes object to print as YAML: the render says so and
// where its containers are, rather than printing nothing.
func TestRenderingTheDockerTargetAsYAMLSaysWhereItsContainersAre(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"render", "-s", "compact", "--dir", "../..", "--format", "yaml"}, nil, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	assert.Equal(t, "# stack compact declares no Kubernetes object (lamina:cluster.target docker); lamina render -s compact --format json shows its containers and networks\n", stdout.String())
}
