package stacks_test

import (
	"strings"
	"testing"

	installgraph "github.com/lamina-os/lamina-infra/internal/graph"
	"github.com/lamina-os/lamina-infra/stacks/offline"
)

// maxCriticalPath is the longest chain of slow steps a stack may make a user wait on
// one after another, counted as `lamina graph` counts them.
const maxCriticalPath = 5

// Neither stack's install makes a user wait on more than maxCriticalPath slow steps in
// a row; the failure prints the chain so the wait to cut is plain.
func TestCriticalPathIsAtMostFiveSlowSteps(t *testing.T) {
	for _, stack := range []string{"development", "production"} {
		t.Run(stack, func(t *testing.T) {
			g, err := offline.Render(projectDir, stack, grafanaPassword)
			if err != nil {
				t.Fatal(err)
			}
			gr := installgraph.Build(g)
			chain := gr.Chain()
			t.Logf("critical path of %s (%d steps): %s", stack, len(chain), strings.Join(chain, " → "))
			if len(chain) > maxCriticalPath {
				t.Errorf("the critical path of %s is %d slow steps, more than %d: %s",
					stack, len(chain), maxCriticalPath, strings.Join(chain, " → "))
			}
		})
	}
}
