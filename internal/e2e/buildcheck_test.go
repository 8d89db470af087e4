package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildImageRef is the build environment's image the engine tests configure
// (lamina:build.image.reference in stack_test.go's configure).
const buildImageRef = "ghcr.io/lamina-os/lamina-build:1.0.0"

// buildImage stands in for the Lamina checkout's build-env image (not here to build): the
// real make and busybox's sh and cp, which the check's command needs (buildtier's
// RunScript copies the tree and runs make in it), and the check's user, 1000. It cannot
// show the real environment's Python, uv and Node toolchains, whose offline resolution
// only the Lamina checkout's own `make check` exercises.
func buildImage() (standInImage, error) {
	var r rootFS
	r.base("root:x:0:0:root:/root:/bin/sh\nlamina:x:1000:1000:lamina:/workspace:/bin/sh\n", "root:x:0:\nlamina:x:1000:\n")
	for _, d := range []string{"/src", "/cache", "/workspace"} {
		r.dir(d, 0o755, 0, 0)
	}
	if err := r.hostBinary("/usr/bin/make", "make"); err != nil {
		return standInImage{}, err
	}
	if err := r.hostBinary("/bin/busybox", "busybox"); err != nil {
		return standInImage{}, err
	}
	for _, applet := range []string{"/bin/sh", "/bin/cp", "/bin/cat", "/bin/test", "/bin/ls"} {
		r.link(applet, "/bin/busybox")
	}
	return standInImage{Ref: buildImageRef, User: "1000", WorkingDir: "/workspace",
		Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, Files: r.files,
		Cannot: "the build environment's Python, uv and Node toolchains"}, nil
}

// `lamina build-check` of production runs the build tier's `make check` of a commit in
// the build image on a real daemon, as the Job does: the tree exported by the program's
// script, docker run as the check's user with its limits and mounts and no network. A
// good commit passes; a bad one fails the command, naming the commit.
func TestBuildCheckOnARealDaemon(t *testing.T) {
	w, d := theDocker(t)
	scenario(t, "build-check: make check of a commit, in the build image on a real daemon", func(t *testing.T) {
		im, err := buildImage()
		if err != nil {
			t.Fatal(err)
		}
		rootfs, err := im.rootfs(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.api.importImage(rootfs, im.Ref, im.changes()); err != nil {
			t.Fatal(err)
		}

		// A checkout of Lamina OS with a commit whose check passes, then one whose
		// check fails; the check reads the tree and writes only its copy.
		checkout := filepath.Join(w.dir, "lamina-os")
		git := func(args ...string) string {
			t.Helper()
			cmd := exec.Command("git", append([]string{"-C", checkout, "-c", "user.name=e2e", "-c", "user.email=e2e@lamina.invalid"}, args...)...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, out)
			}
			return strings.TrimSpace(string(out))
		}
		if err := os.MkdirAll(checkout, 0o755); err != nil {
			t.Fatal(err)
		}
		git("init", "-q")
		commit := func(makefile string) string {
			t.Helper()
			if err := os.WriteFile(filepath.Join(checkout, "Makefile"), []byte(makefile), 0o644); err != nil {
				t.Fatal(err)
			}
			git("add", "Makefile")
			git("commit", "-q", "-m", "check")
			return git("rev-parse", "HEAD")
		}
		// The good check reads its tree, writes its copy, sees its commit, and has no
		// network but loopback.
		good := commit("check:\n\ttest -r Makefile\n\tcp Makefile checked\n\ttest -n \"$$LAMINA_COMMIT\"\n\ttest \"$$(ls /sys/class/net)\" = lo\n")
		bad := commit("check:\n\t@echo 'the lint fails'; exit 3\n")

		p := newProject(t, w, "production")
		p.must(t, "stack", "init", "production")
		data := filepath.Join(w.dir, "data", "production")
		for key, value := range map[string]string{
			"lamina:data.dir": data, "lamina:images.checkout": checkout,
			// Production's check takes 8 cores; this machine's daemon has 2.
			"lamina:build.resources.limits.cpu": "2000m",
		} {
			p.must(t, "config", "set", "--path", key, value, "-s", "production")
		}
		lamina := laminaBinary(t, w)
		outputs, _ := json.Marshal(map[string]any{
			"schemaVersion": 1, "stack": "production", "dataDir": data, "dockerHost": "unix://" + d.sock,
			"build": map[string]string{"namespace": "lamina-build", "image": buildImageRef, "cacheDir": data + "/build/cache"},
		})
		file := filepath.Join(w.dir, "production-outputs.json")
		if err := os.WriteFile(file, outputs, 0o600); err != nil {
			t.Fatal(err)
		}
		check := func(id string) (string, error) {
			return run(p.dir, []string{"HOME=" + w.mac.home}, lamina, "build-check", "-s", "production", "--dir", p.dir,
				"--assume-secret", "lamina:grafana.adminPassword", "-f", file, "--commit", id)
		}
		out, err := check(good)
		if err != nil || !strings.Contains(out, "commit "+good+" passes make check") {
			t.Errorf("the good commit: %v\n%s", err, lastLines(out, 20))
		}
		if _, err := os.Stat(filepath.Join(data, "build", "sources", good, "checked")); err == nil {
			t.Error("the check wrote into the exported tree, which it must only read")
		}
		out, err = check(bad)
		if err == nil || !strings.Contains(out, "the lint fails") || !strings.Contains(out, "the check of "+bad+" failed") {
			t.Errorf("the bad commit: %v\n%s", err, lastLines(out, 20))
		}
	})
}
