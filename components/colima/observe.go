package colima

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Observer looks at the Colima VMs of the Mac the program runs on. pulumi-command runs a
// command only when its inputs change, so without it a VM stopped or deleted behind
// Pulumi's back (a reboot, `colima stop`) would stay down through every `pulumi up`.
type Observer struct {
	// Colima runs colima with args and returns what it printed on stdout; nil runs the
	// colima on PATH.
	Colima func(args ...string) ([]byte, error)
	// Dir keeps one generation file per profile (<profile>.generation).
	Dir string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Generation is the VM command's generation for this run: it stays what the last run
// left while the profile is Running, and changes whenever the profile is anything else
// (stopped, absent, broken), so that the command runs and brings the VM back. In a
// preview the new value is a marker that is not kept; in an up it is kept in Dir, where
// the next runs read it back once the VM runs again, and see no change.
//
// When colima cannot be asked (not installed, failing), the last value stands: the VM
// command itself reports what is wrong when it runs.
func (o Observer) Generation(profile string, dryRun bool) (string, error) {
	path := filepath.Join(o.Dir, profile+".generation")
	last, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading the VM's generation: %w", err)
	}
	status, err := o.status(profile)
	if err != nil || status == "Running" {
		return string(last), nil
	}
	if status == "" {
		status = "absent"
	}
	if dryRun {
		return "the next up starts the profile, now " + status, nil
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	next := fmt.Sprintf("%s: profile %s", now().UTC().Format(time.RFC3339), status)
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return "", fmt.Errorf("keeping the VM's generation: %w", err)
	}
	if err := os.WriteFile(path, []byte(next), 0o600); err != nil {
		return "", fmt.Errorf("keeping the VM's generation: %w", err)
	}
	return next, nil
}

// status is the profile's status as `colima list --json` shows it, "" when it does not
// exist.
func (o Observer) status(profile string) (string, error) {
	run := o.Colima
	if run == nil {
		run = func(args ...string) ([]byte, error) { return exec.Command("colima", args...).Output() }
	}
	out, err := run("list", "--json")
	if err != nil {
		return "", err
	}
	for _, line := range bytes.Split(out, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var instance struct {
			Name, Status string
		}
		if err := json.Unmarshal(line, &instance); err != nil {
			return "", fmt.Errorf("colima list --json printed %q: %w", strings.TrimSpace(string(line)), err)
		}
		if instance.Name == profile {
			return instance.Status, nil
		}
	}
	return "", nil
}
