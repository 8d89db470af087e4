package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/internal/gittest"
	"github.com/lamina-os/lamina-infra/internal/outputs"
)

// fakeDocker puts a docker on PATH that records its arguments, one per line, in the
// returned file and exits with $FAKE_DOCKER_EXIT.
func fakeDocker(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	log := filepath.Join(t.TempDir(), "docker.args")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$FAKE_DOCKER_ARGS\"\nexit \"${FAKE_DOCKER_EXIT:-0}\"\n"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "docker"), []byte(script), 0o755))
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("FAKE_DOCKER_ARGS", log)
	return log
}

// `lamina build-check` runs production's check (make check) of the checkout's HEAD on
// the Mac: the tree exported as `pulumi up` exports it, then docker run on the stack's
// daemon, in the image the stack built, as the Job's user, with its limits and mounts
// and no network. A failing check fails the command.
func TestBuildCheckRunsTheJobsCheckOnTheMacsDaemon(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	checkout := filepath.Join(home, "src", "lamina-os") // production's lamina:images.checkout
	require.NoError(t, os.MkdirAll(checkout, 0o755))
	head := gittest.Commit(t, checkout, map[string]string{"Makefile": "check:\n\truff check .\n"})

	data := filepath.Join(t.TempDir(), "production")
	image := "lamina/lamina-build:" + strings.Repeat("9c", 32)
	host := "unix://" + home + "/.colima/lamina-production/docker.sock"
	outs := func(stack string) string {
		b, err := json.Marshal(map[string]any{
			"schemaVersion": outputs.SchemaVersion, "stack": stack, "dataDir": data, "dockerHost": host,
			"build": map[string]string{"namespace": "lamina-build", "image": image, "cacheDir": data + "/build/cache"},
		})
		require.NoError(t, err)
		file := filepath.Join(t.TempDir(), "outputs.json")
		require.NoError(t, os.WriteFile(file, b, 0o600))
		return file
	}
	args := fakeDocker(t)
	buildCheck := func(extra ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"build-check", "-s", "production", "--dir", "../..", "--assume-secret", "lamina:grafana.adminPassword"}, extra...),
			nil, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	code, _, stderr := buildCheck("-f", outs("production"))
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "commit "+head+" passes make check")
	tree, err := os.ReadFile(filepath.Join(data, "build", "sources", head, "Makefile"))
	require.NoError(t, err)
	assert.Equal(t, "check:\n\truff check .\n", string(tree))
	text, err := os.ReadFile(args)
	require.NoError(t, err)
	got := strings.Split(strings.TrimSuffix(string(text), "\n"), "\n")
	assert.Equal(t, []string{"--host", host, "run", "--rm", "--network", "none", "--user", "1000:1000"}, got[:8])
	for _, pair := range [][2]string{
		{"--cpus", "8"}, {"--memory", "17179869184"}, // production's limits: 8 cores, 16Gi
		{"--mount", "type=bind,src=" + data + "/build/sources/" + head + ",dst=/src,readonly"},
		{"--mount", "type=bind,src=" + data + "/build/cache,dst=/cache"},
		{"--tmpfs", "/workspace:exec,uid=1000,gid=1000,mode=0700"},
		{"--env", "UV_OFFLINE=1"}, {"--env", "LAMINA_COMMIT=" + head},
		{"--cap-drop", "ALL"}, {"--security-opt", "no-new-privileges"},
	} {
		i := slices.Index(got, pair[1])
		if assert.Positive(t, i, "%s %s", pair[0], pair[1]) {
			assert.Equal(t, pair[0], got[i-1], pair[1])
		}
	}
	i := slices.Index(got, image)
	require.Positive(t, i)
	assert.Equal(t, []string{"/bin/sh", "-c"}, got[i+1:i+3])
	assert.Equal(t, []string{"check", "make", "check"}, got[len(got)-3:])

	t.Run("a failing check fails", func(t *testing.T) {
		t.Setenv("FAKE_DOCKER_EXIT", "2")
		code, _, stderr := buildCheck("-f", outs("production"), "--commit", head)
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "lamina build-check: the check of "+head+" failed: exit status 2")
	})
	t.Run("a dry run prints the command line", func(t *testing.T) {
		require.NoError(t, os.Remove(args))
		code, stdout, stderr := buildCheck("-f", outs("production"), "--dry-run")
		require.Equal(t, 0, code, stderr)
		assert.True(t, strings.HasPrefix(stdout, "docker --host "+host+" run --rm --network none"), stdout)
		assert.Contains(t, stdout, " make check\n")
		assert.NoFileExists(t, args, "docker did not run")
	})
	t.Run("another stack's outputs are refused", func(t *testing.T) {
		code, _, stderr := buildCheck("-f", outs("development"))
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "the outputs are stack development's, not production's")
	})
	t.Run("a branch is not a commit", func(t *testing.T) {
		code, _, stderr := buildCheck("-f", outs("production"), "--commit", "main")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, `--commit: "main" is not a full commit ID`)
	})
}
