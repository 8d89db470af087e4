package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/cmd/lamina/offline"
)

// The doctor checks /etc/hosts for the hostnames the components serve, which only the
// program knows: it takes them from the stack's render.
func TestDoctorChecksTheHostnamesTheComponentsServe(t *testing.T) {
	src, err := offline.Source("../..", "development")
	require.NoError(t, err)
	names, err := hostnames(src)
	require.NoError(t, err)
	var want []string
	for _, host := range []string{"core", "dashboard", "grafana", "jaeger", "kiali", "llm", "prometheus"} {
		want = append(want, host+".dev.lamina.home.arpa")
	}
	assert.Equal(t, want, names)
}
