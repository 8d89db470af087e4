package config_test

import (
	"testing"

	"github.com/lamina-os/lamina-infra/stacks/config"
	"github.com/stretchr/testify/require"
)

// projectDir is the repository root, where Pulumi.yaml, the stack files and docs/ live.
const projectDir = "../.."

var bothStacks = []string{"development", "production"}

// grafanaPassword is the key production requires, which only the Mac's stack file holds.
const grafanaPassword = "lamina:grafana.adminPassword"

// stackSource is a stack file's configuration, with overrides set over it (an empty
// value removes the key), as the engine would pass it.
func stackSource(t testing.TB, stack string, overrides map[string]string) *config.Source {
	t.Helper()
	src, err := config.ReadStackFile(projectDir, "lamina-infra", stack)
	require.NoError(t, err)
	if stack == "production" {
		require.NoError(t, src.AssumeSecret(grafanaPassword))
	}
	for k, v := range overrides {
		if v == "" {
			delete(src.Values, k)
		} else {
			src.Values[k] = v
		}
	}
	return src
}
