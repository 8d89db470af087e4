// Package offline runs the real program for a stack of the project under Pulumi's mocks,
// from the stack's settings file, with no engine, cluster or passphrase. `lamina render`
// and the tests share it.
package offline

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/stacks"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// Render runs the program for stack as `pulumi preview` would before the first `up`:
// what only exists after creation is unknown.
func Render(dir, stack string) (*recorder.Graph, error) {
	src, err := Source(dir, stack)
	if err != nil {
		return nil, err
	}
	return Run(src, recorder.Options{Preview: true})
}

// Source reads a stack's settings file from the project in dir.
func Source(dir, stack string) (*config.Source, error) {
	project, err := ProjectName(dir)
	if err != nil {
		return nil, err
	}
	return config.ReadStackFile(dir, project, stack)
}

// Run runs the program on src under mocks; opts supplies Preview and Outputs, the rest
// comes from src.
func Run(src *config.Source, opts recorder.Options) (*recorder.Graph, error) {
	opts.Project, opts.Stack = src.Project, src.Stack
	opts.Config = src.Values
	opts.SecretKeys = nil
	for k := range src.Secret {
		opts.SecretKeys = append(opts.SecretKeys, k)
	}
	sort.Strings(opts.SecretKeys)
	return recorder.Run(opts, stacks.Program(src))
}

// ProjectName reads the project's name from Pulumi.yaml in dir.
func ProjectName(dir string) (string, error) {
	path := filepath.Join(dir, "Pulumi.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("no Pulumi project here: %w (run from the repository root or pass --dir)", err)
	}
	var project struct {
		Name string `yaml:"name"`
	}
	if err := yaml.Unmarshal(data, &project); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if project.Name == "" {
		return "", errors.New(path + ": no project name")
	}
	return project.Name, nil
}
