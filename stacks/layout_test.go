package stacks_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/lamina-os/lamina-infra/internal/filegraph"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const module = "github.com/lamina-os/lamina-infra/"

// imports lists, for every Go file under dir (tests included, generated e2e projects
// and tool binaries not), the module's packages it imports.
func imports(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := filepath.WalkDir(filepath.Join(projectDir, dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".e2e" || d.Name() == "bin" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(projectDir, path)
		for _, spec := range f.Imports {
			if p, _ := strconv.Unquote(spec.Path.Value); strings.HasPrefix(p, module) {
				out[rel] = append(out[rel], strings.TrimPrefix(p, module))
			}
		}
		return nil
	})
	require.NoError(t, err)
	return out
}

// The layers run one way: the program (stacks) wires components and shared code, and
// nothing below it reaches back up. The offline runner (stacks/offline), which runs the
// program, sits above it; the doctor, which reads its configuration, beside its command.
func TestNothingBelowTheProgramImportsIt(t *testing.T) {
	for _, dir := range []string{"internal", "components"} {
		for file, pkgs := range imports(t, dir) {
			for _, p := range pkgs {
				assert.False(t, p == "stacks" || strings.HasPrefix(p, "stacks/"), "%s imports %s", file, p)
			}
		}
	}
}

// The mesh part of a stack names no workload: each component declares its own flows
// and hostnames (package network), and mesh.go only hands them on.
func TestTheMeshNamesNoWorkload(t *testing.T) {
	platform := map[string]bool{
		"components/certmanager": true, "components/cluster": true, "components/edge": true, "components/istio": true,
		"components/metallb": true, "components/namespaces": true, "components/network": true, "components/security": true,
	}
	for _, p := range imports(t, "stacks")["stacks/mesh.go"] {
		if strings.HasPrefix(p, "components/") {
			assert.True(t, platform[p], "stacks/mesh.go imports the workload component %s", p)
		}
	}
}

// The program's files read from the top down: Build (build.go) calls each target and
// each part of the platform, which call the conversions of config into the components'
// arguments (convert.go), the outputs and the VM; none calls back up, and no part calls
// another of its layer. A new file gets its layer here.
func TestProgramFilesCallOnlyDownward(t *testing.T) {
	g, err := filegraph.Load(".")
	require.NoError(t, err)
	assert.Empty(t, g.Against([][]string{
		{"convert.go"},
		{"mesh.go", "promote.go", "colima.go", "outputs.go", "host.go"},
		{"monitoring.go", "agents.go", "buildtier.go", "shared.go"},
		{"docker.go"},
		{"build.go"},
	}))
}
