package colima

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Observer looks at the Colima VMs of the Mac the program runs on. pulumi-command runs a
// command only when its inputs change, and pulumi-docker does not look for its images
// on the daemon: without it, a VM stopped behind Pulumi's back (a reboot, `colima stop`)
// would stay down through every `pulumi up`, and pods on a VM made anew would not find
// the images the state says were built there.
type Observer struct {
	// Colima runs colima with args and returns what it printed on stdout; nil runs the
	// colima on PATH.
	Colima func(args ...string) ([]byte, error)
	// Dir keeps what the last runs saw of each profile (<profile>.json).
	Dir string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// observed is what Dir keeps of a profile.
type observed struct {
	Generation string `json:"generation"`
	// Daemon is the token the images got; DockerID the daemon it stands for, empty
	// until a run sees the new VM's daemon.
	Daemon   string `json:"daemon"`
	DockerID string `json:"dockerID"`
}

// Observe looks at the profile and returns what the VM's command and the images get:
//   - generation stays what the last run left while the profile is Running, and changes
//     whenever it is anything else (stopped, absent, broken), so that the VM's command
//     runs and brings the VM back;
//   - daemon stays the same while the VM's Docker daemon is the one the images were
//     built on, and changes when the VM is made anew (by this program or behind its
//     back), so that the images are built again.
//
// In a preview (dryRun) a change is a marker that is not kept; in an up it is kept in
// Dir, where the next runs read it back and see no change once the VM runs as it
// should. When colima or the daemon cannot be asked, what the last run saw stands: the
// VM's command reports what is wrong when it runs.
func (o Observer) Observe(profile string, dryRun bool) (generation, daemon string, err error) {
	path := filepath.Join(o.Dir, profile+".json")
	var last observed
	switch data, err := os.ReadFile(path); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return "", "", fmt.Errorf("reading what the last run saw of the VM: %w", err)
	default:
		if err := json.Unmarshal(data, &last); err != nil {
			return "", "", fmt.Errorf("%s: %w (remove it; the next up starts the VM if it must)", path, err)
		}
	}
	next := last
	status, err := o.status(profile)
	if err != nil {
		return last.Generation, last.Daemon, nil
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	stamp := now().UTC().Format(time.RFC3339)
	switch status {
	case "Running":
		id, err := o.dockerID(profile)
		switch {
		case err != nil:
		case last.DockerID == "":
			// A VM this program just made, or the first look at one: its daemon is the
			// one the images are built on. Recorded by a preview too: it is a fact
			// about the Mac, not a change, and the sooner it is kept, the sooner a VM
			// made anew behind Pulumi's back is told from it.
			next.DockerID = id
			if dryRun {
				if err := o.keep(path, next); err != nil {
					return "", "", err
				}
			}
		case id != last.DockerID:
			next.Daemon, next.DockerID = stamp+": Docker daemon "+id, id
			if dryRun {
				next.Daemon = "the next up builds the images again on Docker daemon " + id
			}
		}
	case "":
		next.Generation, next.Daemon, next.DockerID = stamp+": profile absent", stamp+": a new VM", ""
		if dryRun {
			next.Generation, next.Daemon = willStart+"creates the profile", "the next up builds the images on a new VM"
		}
	default:
		next.Generation = stamp + ": profile " + status
		if dryRun {
			next.Generation = willStart + "starts the profile, now " + status
		}
	}
	if !dryRun && next != last {
		if err := o.keep(path, next); err != nil {
			return "", "", err
		}
	}
	return next.Generation, next.Daemon, nil
}

// WillStart says a preview's generation is for a VM the next up must start or create.
func WillStart(generation string) bool { return strings.HasPrefix(generation, willStart) }

// willStart begins the generation a preview gives a VM that is not running.
const willStart = "the next up "

// keep writes what a run saw of a profile to path, readable by the Mac user only.
func (o Observer) keep(path string, seen observed) error {
	data, err := json.Marshal(seen)
	if err == nil {
		err = os.MkdirAll(o.Dir, 0o700)
	}
	if err == nil {
		err = os.WriteFile(path, data, 0o600)
	}
	if err != nil {
		return fmt.Errorf("keeping what this run saw of the VM: %w", err)
	}
	return nil
}

// status is the profile's status as `colima list --json` shows it, "" when it does not
// exist.
func (o Observer) status(profile string) (string, error) {
	out, err := o.colima("list", "--json")
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

// dockerID is the ID of the running profile's Docker daemon.
func (o Observer) dockerID(profile string) (string, error) {
	out, err := o.colima("status", "--profile="+profile, "--json")
	if err != nil {
		return "", err
	}
	var status struct {
		Socket string `json:"docker_socket"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &status); err != nil {
		return "", err
	}
	socket, ok := strings.CutPrefix(status.Socket, "unix://")
	if !ok {
		return "", fmt.Errorf("colima status gave no unix socket: %q", status.Socket)
	}
	return daemonID(socket)
}

func (o Observer) colima(args ...string) ([]byte, error) {
	if o.Colima != nil {
		return o.Colima(args...)
	}
	return exec.Command("colima", args...).Output()
}

// daemonID asks the Docker daemon at a unix socket for its ID, which it keeps for as long
// as its data (and with it, its images) lives.
func daemonID(socket string) (string, error) {
	client := http.Client{
		Timeout: 5 * time.Second,
		Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}},
	}
	resp, err := client.Get("http://docker/info")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("the Docker daemon at %s answered %s", socket, resp.Status)
	}
	var info struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return "", err
	}
	if info.ID == "" {
		return "", fmt.Errorf("the Docker daemon at %s gave no ID", socket)
	}
	return info.ID, nil
}
