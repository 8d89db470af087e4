package main

import (
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"

	"github.com/lamina-os/lamina-infra/cmd/lamina/doctor"
	"github.com/lamina-os/lamina-infra/stacks"
	"github.com/lamina-os/lamina-infra/stacks/config"
	"github.com/lamina-os/lamina-infra/stacks/offline"
)

// doctorCmd checks the Mac for a stack before anything is changed.
func doctorCmd(args []string, stdout, stderr io.Writer) int {
	f := newFlags("doctor", stderr)
	if !f.parse(args, stderr) {
		return 2
	}
	s := doctor.Stack{Name: f.stack}
	src, err := offline.Source(f.dir, f.stack)
	if err != nil {
		fmt.Fprintf(stderr, "lamina: %v\n", err)
		return 1
	}
	// As under pulumi up: the build checkout and Dockerfiles are looked for on this Mac.
	if s.Config, s.LoadErr = config.Load(src, stacks.Mac{}); s.LoadErr != nil {
		s.Config = nil
	} else {
		s.Hostnames, s.RenderErr = offline.Hostnames(src)
		s.VMStart = stacks.ColimaArgs(s.Config).StartCommand()
	}
	file, err := os.ReadFile(config.StackFile(f.dir, f.stack))
	if err != nil {
		fmt.Fprintf(stderr, "lamina: %v\n", err)
		return 1
	}
	s.Encrypted = bytes.Contains(file, []byte("secretsprovider: passphrase")) || bytes.Contains(file, []byte("encryptionsalt:"))
	checks := doctor.Run(thisMac{}, s)
	doctor.Print(stdout, checks)
	if doctor.Failed(checks) {
		fmt.Fprintf(stderr, "lamina doctor: stack %s cannot go up on this Mac yet; fix what FAIL says, then run it again\n", f.stack)
		return 1
	}
	return 0
}

// thisMac is the machine lamina runs on.
type thisMac struct{}

func (thisMac) Output(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return string(out), err
}
func (thisMac) ReadFile(path string) ([]byte, error)  { return os.ReadFile(path) }
func (thisMac) Stat(path string) (fs.FileInfo, error) { return os.Stat(path) }
func (thisMac) Getenv(key string) string              { return os.Getenv(key) }
