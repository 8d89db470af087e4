package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// skipped are the parts of the repository a copy of the project leaves out: they are not
// the program, and its build does not read them.
var skipped = map[string]bool{".git": true, "internal/e2e": true, "internal/conformance": true, "bin": true}

// project is a copy of the project where the CLI runs: `pulumi stack init` and `pulumi
// config set` write the stack's settings file, which must not be the repository's.
type project struct {
	w     *world
	dir   string
	stack string
}

// newProject copies the program into a directory of the run and creates stack there.
func newProject(t testing.TB, w *world, stack string) *project {
	t.Helper()
	src := root
	if *programFlag != "" {
		src = *programFlag
	}
	// The same path on every run: the language host's build of the program (whose
	// cache keys hold the sources' paths) is then a relink.
	p := &project{w: w, dir: filepath.Join(w.base, "project-"+stack), stack: stack}
	if err := os.RemoveAll(p.dir); err != nil {
		t.Fatal(err)
	}
	p.copyProgram(t, src)
	return p
}

// copyProgram copies the program of the checkout src over the project's, as a git pull
// brings a new version: files the new version no longer has are removed, and the
// project's stack settings file is the new version's.
func (p *project) copyProgram(t testing.TB, src string) {
	t.Helper()
	src, err := filepath.Abs(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(p.dir); err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if skipped[filepath.ToSlash(rel)] {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil // a file (a worktree's .git): SkipDir would end the whole directory
		}
		target := filepath.Join(p.dir, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, info.Mode().Perm())
	})
	if err != nil {
		t.Fatalf("copying the project: %v", err)
	}
	// The copy sits inside the repository: without its own Pulumi.yaml, the CLI would
	// find the repository's and act on it.
	if _, err := os.Stat(filepath.Join(p.dir, "Pulumi.yaml")); err != nil {
		t.Fatalf("the copy of %s has no Pulumi.yaml: %v", src, err)
	}
}

// pulumi runs the CLI in the project, as the user does, and returns its output.
func (p *project) pulumi(t testing.TB, args ...string) (string, error) {
	t.Helper()
	begin := time.Now()
	out, err := run(p.dir, p.w.mac.env, filepath.Join(p.w.bin, "pulumi"), append(args, "--non-interactive")...)
	t.Logf("pulumi %s: %s", strings.Join(args, " "), time.Since(begin).Round(100*time.Millisecond))
	return out, err
}

// must runs the CLI and fails the test, with the end of its output, when it fails.
func (p *project) must(t testing.TB, args ...string) string {
	t.Helper()
	out, err := p.pulumi(t, args...)
	if err != nil {
		t.Fatalf("pulumi %s: %v\n%s", strings.Join(args, " "), err, lastLines(out, 60))
	}
	return out
}

// timed runs the CLI as must does and returns how long it took.
func (p *project) timed(t testing.TB, args ...string) (string, time.Duration) {
	t.Helper()
	begin := time.Now()
	out := p.must(t, args...)
	return out, time.Since(begin)
}

// configure sets what this machine forces on the stack, and nothing else: the data
// directory, the chart repositories (the mirror on loopback), prebuilt images (no Docker
// daemon runs here) and the API server's port (the harness's).
func (p *project) configure(t testing.TB) {
	t.Helper()
	set := func(key, value string) { p.must(t, "config", "set", "--path", key, value, "-s", p.stack) }
	set("lamina:data.dir", p.dataDir())
	// The chart keys of the version the project holds.
	repos, err := chartRepositories(filepath.Join(p.dir, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	for key, upstream := range repos {
		url, err := p.w.charts.repository(upstream)
		if err != nil {
			t.Fatal(err)
		}
		set(key, url)
	}
	for _, image := range []struct{ key, ref string }{
		{"llmServe", "ghcr.io/lamina-os/lamina-llm-serve:0.9.0"},
		{"core", "ghcr.io/lamina-os/lamina-core:0.9.0"},
		{"dashboard", "ghcr.io/lamina-os/lamina-dashboard:0.9.0"},
	} {
		set("lamina:images."+image.key+".build", "false")
		set("lamina:images."+image.key+".reference", image.ref)
	}
	// The build tier's environment too, where the stack has one (production).
	set("lamina:build.image.build", "false")
	set("lamina:build.image.reference", "ghcr.io/lamina-os/lamina-build:1.0.0")
	set("lamina:cluster.apiServerPort", fmt.Sprint(p.w.apiPort))
}

// dataDir is the stack's host data directory (not under /tmp, which validation refuses).
func (p *project) dataDir() string {
	return filepath.Join(p.w.dir, "data", p.stack)
}

var repoRow = regexp.MustCompile("^\\| `(lamina:[A-Za-z.]+\\.repository)` \\| string \\| `([^`]+)` \\|")

// chartRepositories reads every chart repository key, with its development default,
// from the configuration reference (which a test keeps in step with the config tree).
func chartRepositories(reference string) (map[string]string, error) {
	f, err := os.Open(reference)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		if m := repoRow.FindStringSubmatch(s.Text()); m != nil {
			out[m[1]] = m[2]
		}
	}
	if len(out) < 8 {
		return nil, fmt.Errorf("only %d chart repositories in %s", len(out), reference)
	}
	return out, s.Err()
}

// installPlugins installs the providers under the versions the program's SDKs ask the
// engine for; nothing is downloaded. The Go language host is bundled with the CLI: the
// CLI finds it beside itself.
func (w *world) installPlugins(t testing.TB, p *project) {
	t.Helper()
	versions, err := pluginVersions(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, plugin := range []struct{ kind, name, version, file string }{
		{"resource", "kubernetes", versions["kubernetes"], "pulumi-resource-kubernetes"},
		{"resource", "command", versions["command"], "pulumi-resource-command"},
	} {
		p.must(t, "plugin", "install", plugin.kind, plugin.name, plugin.version, "--file", filepath.Join(w.bin, plugin.file))
	}
}

var requireLine = regexp.MustCompile(`^\s*github\.com/pulumi/(pulumi-kubernetes/sdk/v4|pulumi-command/sdk|pulumi-docker/sdk/v4) v(\S+)`)

// pluginVersions reads the SDK versions the program pins: the engine asks for plugins of
// exactly those versions.
func pluginVersions(gomod string) (map[string]string, error) {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return nil, err
	}
	names := map[string]string{"pulumi-kubernetes/sdk/v4": "kubernetes", "pulumi-command/sdk": "command", "pulumi-docker/sdk/v4": "docker"}
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if m := requireLine.FindStringSubmatch(line); m != nil {
			out[names[m[1]]] = m[2]
		}
	}
	if len(out) != len(names) {
		return nil, fmt.Errorf("%s: found %v of the SDKs", gomod, out)
	}
	return out, nil
}

// policyPack is an executable that runs the OPA analyzer on the project's pack (with
// extra, when given, as one more rule file of a copy of it): the CLI loads it as the
// analyzer, where it would otherwise download a language plugin for runtime: opa.
func (p *project) policyPack(t *testing.T, extra string) string {
	t.Helper()
	pack := filepath.Join(p.dir, "policy")
	name := "policy-pack-" + p.stack
	if extra != "" {
		name += "-probe"
		pack = filepath.Join(p.w.dir, name+"-dir")
		if err := os.CopyFS(pack, os.DirFS(filepath.Join(p.dir, "policy"))); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pack, "e2e-probe.rego"), []byte(extra), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(p.w.dir, name)
	script := fmt.Sprintf("#!/bin/sh\nexec %q \"$1\" %q\n", filepath.Join(p.w.bin, "pulumi-analyzer-policy-opa"), pack)
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return exe
}

// outputs are the stack's outputs as scripts read them.
func (p *project) outputs(t testing.TB) map[string]any {
	t.Helper()
	out := p.must(t, "stack", "output", "--json", "--show-secrets", "-s", p.stack)
	var m map[string]any
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &m); err != nil {
		t.Fatalf("stack output: %v\n%s", err, out)
	}
	return m
}
