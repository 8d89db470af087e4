package stacks_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/stacks/config"
	"github.com/lamina-os/lamina-infra/stacks/offline"
)

// The program refuses a bad configuration before it registers a single resource, on
// every target, with the error config.Load gives (whose problems config's own tests
// cover one by one).
func TestBadConfigurationRegistersNothing(t *testing.T) {
	for _, tc := range []struct {
		stack     string
		overrides map[string]string
	}{
		{"development", map[string]string{"lamina:colima": `{"cpus":0,"memoryGiB":1,"diskGiB":10}`}},
		{"production", map[string]string{"lamina:llm": `{"accelerator": "gpu"}`, "lamina:monitoring": `{"prometheus": {"retention": "200w"}}`}},
		{"staging", map[string]string{"lamina:data": `{"dir": "relative/path"}`}},
		{"compact", map[string]string{"lamina:docker": `{"edgePort": 70000}`}},
		{"development", map[string]string{"lamina:profile": "prod"}},
	} {
		src := stackSource(t, tc.stack, tc.overrides)
		_, want := config.Load(stackSource(t, tc.stack, tc.overrides), nil)
		var cerr *config.ConfigError
		require.True(t, errors.As(want, &cerr), "%s %v: want a ConfigError, got %v", tc.stack, tc.overrides, want)

		g, err := offline.Run(src, nil, recorder.Options{Preview: true})
		require.Error(t, err, tc.stack)
		assert.Contains(t, err.Error(), want.Error(), tc.stack)
		assert.Empty(t, g.Resources, "%s %v: nothing may be registered when the configuration is refused", tc.stack, tc.overrides)
	}
}
