package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lamina-os/lamina-infra/internal/outputs"
)

// opsFlags is the command line of a command that reads a stack's outputs.
type opsFlags struct {
	*flag.FlagSet
	file string
}

func newOpsFlags(name string, stderr io.Writer) *opsFlags {
	f := &opsFlags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.SetOutput(stderr)
	f.StringVar(&f.file, "f", "-", "the stack's outputs, as `pulumi stack output --json --show-secrets` prints them (- for stdin)")
	return f
}

// read parses the command line and the outputs it names.
func (f *opsFlags) read(args []string, stdin io.Reader, stderr io.Writer) (*outputs.Stack, int) {
	if err := f.Parse(args); err != nil {
		return nil, 2
	}
	if f.NArg() > 0 {
		fmt.Fprintf(stderr, "lamina %s: unexpected %q\n%s", f.Name(), f.Arg(0), usage)
		return nil, 2
	}
	s, err := readOutputs(f.file, stdin)
	if err != nil {
		fmt.Fprintf(stderr, "lamina %s: %v\n", f.Name(), err)
		return nil, 1
	}
	return s, 0
}

func hosts(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	f := newOpsFlags("hosts", stderr)
	apply := f.Bool("apply", false, "write the lines into the hosts file, between this stack's markers")
	hostsFile := f.String("hosts-file", "/etc/hosts", "the hosts file --apply writes")
	sudo := f.Bool("sudo", false, "with --apply: write through sudo when the file is not writable")
	s, code := f.read(args, stdin, stderr)
	if s == nil {
		return code
	}
	lines, err := s.HostsLines()
	if err != nil {
		fmt.Fprintf(stderr, "lamina hosts: %v\n", err)
		return 1
	}
	if !*apply {
		fmt.Fprintln(stdout, strings.Join(lines, "\n"))
		return 0
	}
	current, err := os.ReadFile(*hostsFile)
	if err != nil {
		fmt.Fprintf(stderr, "lamina hosts: %v\n", err)
		return 1
	}
	next, err := outputs.ApplyHosts(string(current), s.Stack, lines)
	if err != nil {
		fmt.Fprintf(stderr, "lamina hosts: %s: %v\n", *hostsFile, err)
		return 1
	}
	if next == string(current) {
		fmt.Fprintf(stdout, "%s already has the %d hostnames of stack %s\n", *hostsFile, len(lines), s.Stack)
		return 0
	}
	backup := *hostsFile + ".lamina-backup"
	if err := replaceFile(*hostsFile, backup, next); err != nil {
		if !errors.Is(err, fs.ErrPermission) || !*sudo {
			fmt.Fprintf(stderr, "lamina hosts: %v (rerun with --sudo to write it through sudo)\n", err)
			return 1
		}
		// One sudo: keep a copy, then rewrite the file in place (its owner and mode stay).
		cmd := exec.Command("sudo", "sh", "-c", `cp -p "$1" "$2" && cat >"$1"`, "sh", *hostsFile, backup)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(next), io.Discard, stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(stderr, "lamina hosts: writing %s through sudo: %v (the previous file is %s)\n", *hostsFile, err, backup)
			return 1
		}
	}
	fmt.Fprintf(stdout, "%s: wrote the %d hostnames of stack %s between its markers (the previous file is %s)\n", *hostsFile, len(lines), s.Stack, backup)
	return 0
}

// replaceFile keeps a copy of path at backup, then replaces path with text at once: a
// new file in the same directory, with the old one's mode, renamed over it, so that no
// reader ever sees half of it.
func replaceFile(path, backup, text string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := os.WriteFile(backup, old, info.Mode().Perm()); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".lamina-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, there is nothing left to remove
	if _, err := tmp.WriteString(text); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(info.Mode().Perm()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func endpoints(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	f := newOpsFlags("endpoints", stderr)
	s, code := f.read(args, stdin, stderr)
	if s == nil {
		return code
	}
	if err := s.Require("urls", "gatewayAddress"); err != nil {
		fmt.Fprintf(stderr, "lamina endpoints: %v\n", err)
		return 1
	}
	eps, err := s.Endpoints()
	if err != nil {
		fmt.Fprintf(stderr, "lamina endpoints: %v\n", err)
		return 1
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SERVICE\tURL\tGATEWAY")
	for _, e := range eps {
		fmt.Fprintf(w, "%s\t%s\t%s\n", e.Name, e.URL, s.GatewayAddress)
	}
	if err := w.Flush(); err != nil {
		return 1
	}
	return 0
}

func kubeconfig(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	f := newOpsFlags("kubeconfig", stderr)
	out := f.String("o", "", "where to write it (default ~/.kube/lamina-<stack>)")
	s, code := f.read(args, stdin, stderr)
	if s == nil {
		return code
	}
	path := *out
	if path == "" {
		if err := s.Require("stack"); err != nil {
			fmt.Fprintf(stderr, "lamina kubeconfig: %v\n", err)
			return 1
		}
		home, err := os.UserHomeDir()
		if err != nil {
			fmt.Fprintf(stderr, "lamina kubeconfig: %v; give -o\n", err)
			return 1
		}
		path = filepath.Join(home, ".kube", "lamina-"+s.Stack)
	}
	if err := s.WriteKubeconfig(path); err != nil {
		fmt.Fprintf(stderr, "lamina kubeconfig: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s (mode 0600); use it with:\n  export KUBECONFIG=%s\n", path, path)
	return 0
}

func smoke(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	f := newOpsFlags("smoke", stderr)
	caFile := f.String("cacert", "", "PEM file of the CA that signed the gateway's certificate (the stack's root CA)")
	insecure := f.Bool("insecure", false, "do not verify the gateway's certificate")
	timeout := f.Duration("timeout", 10*time.Second, "bound on each request")
	s, code := f.read(args, stdin, stderr)
	if s == nil {
		return code
	}
	opts := outputs.SmokeOptions{Insecure: *insecure, Timeout: *timeout}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintf(stderr, "lamina smoke: %v\n", err)
			return 1
		}
		opts.RootCAs = x509.NewCertPool()
		if !opts.RootCAs.AppendCertsFromPEM(pem) {
			fmt.Fprintf(stderr, "lamina smoke: %s holds no PEM certificate\n", *caFile)
			return 1
		}
	}
	probes, err := s.Smoke(context.Background(), opts)
	if err != nil {
		fmt.Fprintf(stderr, "lamina smoke: %v\n", err)
		return 1
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "SERVICE\tURL\tSTATUS\tRESULT")
	failed := 0
	for _, p := range probes {
		status, result := "-", "ok"
		if p.Status != 0 {
			status = fmt.Sprint(p.Status)
		}
		if !p.OK() {
			failed++
			result = "FAIL: " + p.Err.Error()
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p.Name, p.URL, status, result)
	}
	_ = w.Flush()
	if failed > 0 {
		fmt.Fprintf(stderr, "lamina smoke: %d of %d services failed through %s\n", failed, len(probes), s.GatewayAddress)
		return 1
	}
	return 0
}
