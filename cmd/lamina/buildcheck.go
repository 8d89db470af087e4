package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/lamina-os/lamina-infra/components/buildtier"
	"github.com/lamina-os/lamina-infra/internal/outputs"
	"github.com/lamina-os/lamina-infra/internal/shell"
	"github.com/lamina-os/lamina-infra/stacks/config"
	"github.com/lamina-os/lamina-infra/stacks/offline"
)

// buildCheck runs the build tier's check of a commit on this Mac, in the image the stack
// built, on the daemon it built it on: what the Job in lamina-build runs, with the same
// command, user, environment, limits and tree, and no network at all. The stack's
// configuration says what to run; its outputs say which image and where.
func buildCheck(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	f := newFlags("build-check", stderr)
	file := f.String("f", "-", "the stack's outputs, as `pulumi stack output --json` prints them (- for stdin)")
	commit := f.String("commit", "", "the full ID of the commit to check (default: the stack's lamina:build.commit, else the checkout's HEAD)")
	dryRun := f.Bool("dry-run", false, "export the tree, print the docker command line and stop")
	if !f.parse(args, stderr) {
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "lamina build-check: "+format+"\n", a...)
		return 1
	}
	src, err := offline.Source(f.dir, f.stack)
	if err != nil {
		return fail("%v", err)
	}
	for _, key := range f.secrets {
		if err := src.AssumeSecret(key); err != nil {
			return fail("%v", err)
		}
	}
	cfg, err := config.Load(src, nil)
	if err != nil {
		return fail("%v", err)
	}
	out, err := readOutputs(*file, stdin)
	if err != nil {
		return fail("%v", err)
	}
	if out.Stack != f.stack {
		return fail("the outputs are stack %s's, not %s's; pipe pulumi stack output --json -s %s", out.Stack, f.stack, f.stack)
	}
	if out.Build == nil || out.Build.Image == "" || out.DockerHost == "" || out.DataDir == "" {
		return fail("stack %s's outputs have no build tier (build, dockerHost, dataDir); set lamina:build.enabled true and run pulumi up -s %s first", f.stack, f.stack)
	}
	checkout := config.ExpandHome(cfg.Images.Checkout)
	id := *commit
	if id == "" {
		id = cfg.Build.Commit
	}
	if id == "" {
		head, err := exec.Command("git", "-C", checkout, "rev-parse", "HEAD").Output()
		if err != nil {
			return fail("no commit given and no HEAD in %s (lamina:images.checkout): %v", checkout, err)
		}
		id = strings.TrimSpace(string(head))
	}
	if err := config.ValidateCommit(id); err != nil {
		return fail("--commit: %v", err)
	}

	// The tree, exported as `pulumi up` exports it, by the same script.
	export := exec.Command(shell.Interpreter[0], append(shell.Interpreter[1:], buildtier.ExportScript)...)
	export.Env = os.Environ()
	for k, v := range buildtier.ExportEnvironment(out.DataDir, config.BuildDir, checkout, id) {
		export.Env = append(export.Env, k+"="+v)
	}
	export.Stdout, export.Stderr = stderr, stderr
	if err := export.Run(); err != nil {
		return fail("exporting commit %s: %v", id, err)
	}

	b := cfg.Build
	cpus, _ := config.ParseQuantity(b.Resources.Limits.CPU)
	memory, _ := config.ParseQuantity(b.Resources.Limits.Memory)
	docker := append([]string{"--host", out.DockerHost}, buildtier.DockerRunArgs(buildtier.LocalCheck{
		Image: out.Build.Image, BuildDir: filepath.Join(out.DataDir, config.BuildDir), Commit: id,
		Command: b.Command, RunAsUser: b.Security.RunAsUser, RunAsGroup: b.Security.RunAsGroup,
		CPUs: cpus, MemoryBytes: int64(memory),
	})...)
	if *dryRun {
		fmt.Fprintln(stdout, shell.Quote(append([]string{"docker"}, docker...)))
		return 0
	}
	run := exec.Command("docker", docker...)
	run.Stdin, run.Stdout, run.Stderr = nil, stdout, stderr
	if err := run.Run(); err != nil {
		return fail("the check of %s failed: %v", id, err)
	}
	fmt.Fprintf(stderr, "lamina build-check: commit %s passes %s\n", id, strings.Join(b.Command, " "))
	return 0
}

// readOutputs reads a stack's outputs from file, or stdin for "-".
func readOutputs(file string, stdin io.Reader) (*outputs.Stack, error) {
	if file == "-" {
		return outputs.Parse(stdin, "stdin")
	}
	r, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return outputs.Parse(r, file)
}
