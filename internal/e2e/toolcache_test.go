package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// cacheRun sources toolcache.sh with cache as its directory and runs script, whose
// recipe `demo` writes a tool "demo" and counts its builds in $dir/builds.
func cacheRun(t *testing.T, dir, recipe, script string) (string, error) {
	t.Helper()
	src, err := filepath.Abs("toolcache.sh")
	if err != nil {
		t.Fatal(err)
	}
	full := fmt.Sprintf("set -euo pipefail\n. %q\n%s\n%s\n", src, recipe, script)
	cmd := exec.Command("bash", "-c", full)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "LAMINA_TOOL_CACHE="+filepath.Join(dir, "cache"), "LAMINA_TOOLS_REPORT="+filepath.Join(dir, "report"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

const demoRecipe = `demo() { echo built >>builds; printf 'demo %s\n' "$(cat pin)" >"$1/demo"; chmod +x "$1/demo"; }`

func builds(t *testing.T, dir string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "builds"))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), "built")
}

var keyLine = regexp.MustCompile(`tool demo +(hit|built) +\d+s  key ([0-9a-f]{16})`)

// The cache builds a tool once per key: a second clone (another output directory) gets it
// from the cache; a changed pin or recipe misses; an entry whose files changed, or that
// has no manifest, is rebuilt and never used; a failed build leaves nothing behind.
func TestToolCacheBuildsOncePerKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	use := func(recipe, out string) (how, key string) {
		t.Helper()
		got, err := cacheRun(t, dir, recipe, "cached demo demo "+out+" pin")
		if err != nil {
			t.Fatalf("cached: %v\n%s", err, got)
		}
		m := keyLine.FindStringSubmatch(got)
		if m == nil {
			t.Fatalf("no key printed:\n%s", got)
		}
		data, err := os.ReadFile(filepath.Join(dir, out, "demo"))
		if err != nil || string(data) != "demo "+readFile(t, filepath.Join(dir, "pin"))+"\n" {
			t.Fatalf("%s/demo holds %q (%v)", out, data, err)
		}
		return m[1], m[2]
	}
	write("pin", "v1")
	how, first := use(demoRecipe, "clone-a")
	if how != "built" || builds(t, dir) != 1 {
		t.Fatalf("first use: %s, %d builds", how, builds(t, dir))
	}
	if how, key := use(demoRecipe, "clone-b"); how != "hit" || key != first || builds(t, dir) != 1 {
		t.Fatalf("second clone: %s with key %s (first %s), %d builds", how, key, first, builds(t, dir))
	}

	write("pin", "v2")
	how, second := use(demoRecipe, "clone-a")
	if how != "built" || second == first || builds(t, dir) != 2 {
		t.Fatalf("a changed pin: %s with key %s (was %s), %d builds", how, second, first, builds(t, dir))
	}
	changed := strings.Replace(demoRecipe, "chmod +x", "chmod 0755", 1)
	how, third := use(changed, "clone-a")
	if how != "built" || third == second || builds(t, dir) != 3 {
		t.Fatalf("a changed recipe: %s with key %s (was %s), %d builds", how, third, second, builds(t, dir))
	}

	entry := filepath.Join(dir, "cache", "demo-"+third)
	if err := os.WriteFile(filepath.Join(entry, "demo"), []byte("truncated"), 0o755); err != nil {
		t.Fatal(err)
	}
	if how, _ := use(changed, "clone-c"); how != "built" || builds(t, dir) != 4 {
		t.Fatalf("a changed entry was used (%s), %d builds", how, builds(t, dir))
	}
	if err := os.Remove(filepath.Join(entry, ".manifest")); err != nil {
		t.Fatal(err)
	}
	if how, _ := use(changed, "clone-c"); how != "built" || builds(t, dir) != 5 {
		t.Fatalf("an entry without its manifest was used (%s), %d builds", how, builds(t, dir))
	}

	report := readFile(t, filepath.Join(dir, "report"))
	if n := strings.Count(report, "\tbuilt\t"); n != 5 || strings.Count(report, "\thit\t") != 1 {
		t.Errorf("the report has %d builds and %d hits, want 5 and 1:\n%s", n, strings.Count(report, "\thit\t"), report)
	}

	failing := `demo() { echo built >>builds; echo half >"$1/demo"; return 3; }`
	write("pin", "v3")
	if got, err := cacheRun(t, dir, failing, "cached demo demo clone-d pin"); err == nil || !strings.Contains(got, "tool demo: its build failed") {
		t.Fatalf("a failed build: %v\n%s", err, got)
	}
	entries, _ := filepath.Glob(filepath.Join(dir, "cache", "*demo*"))
	for _, e := range entries {
		if info, err := os.Stat(e); err == nil && info.IsDir() && !tool16(filepath.Base(e)) {
			t.Errorf("a failed build left %s behind", e)
		}
	}
	write("pin", "v4")
	use(changed, "clone-e")
	kept := dirs(t, filepath.Join(dir, "cache"))
	if len(kept) != 3 || strings.Contains(strings.Join(kept, " "), first) {
		t.Errorf("kept %v, want the 3 used last (not demo-%s)", kept, first)
	}
}

// Two builders of one entry at once (make tools in the background, then .ci/run) build it
// once: the second waits for the first and uses its result.
func TestToolCacheBuildersTakeTurns(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pin"), []byte("v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	slow := `demo() { echo built >>builds; sleep 1; printf 'demo %s\n' "$(cat pin)" >"$1/demo"; }`
	var wg sync.WaitGroup
	outs := make([]string, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got, err := cacheRun(t, dir, slow, fmt.Sprintf("cached demo demo out-%d pin", i))
			if err != nil {
				t.Errorf("builder %d: %v\n%s", i, err, got)
			}
			outs[i] = got
		}()
	}
	wg.Wait()
	if n := builds(t, dir); n != 1 {
		t.Fatalf("%d builds, want 1:\n%s\n%s", n, outs[0], outs[1])
	}
	if all := outs[0] + outs[1]; strings.Count(all, " hit ") != 1 || strings.Count(all, " built ") != 1 {
		t.Errorf("want one build and one hit:\n%s", all)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

var entryName = regexp.MustCompile(`^demo-[0-9a-f]{16}$`)

func tool16(name string) bool { return entryName.MatchString(name) }

func dirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && tool16(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}
