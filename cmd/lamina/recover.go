package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/lamina-os/lamina-infra/cmd/lamina/recovery"
)

// recoverCmd repairs a stack whose last pulumi up was killed; make up runs it first.
func recoverCmd(args []string, stdout, stderr io.Writer) int {
	f := newFlags("recover", stderr)
	if !f.parse(args, stderr) {
		return 2
	}
	if err := recovery.Recover(thisHost{dir: f.dir}, f.stack, stdout); err != nil {
		fmt.Fprintf(stderr, "lamina recover: %v\n", err)
		return 1
	}
	return 0
}

// thisHost is the machine lamina runs on, with the project in dir.
type thisHost struct{ dir string }

func (h thisHost) Output(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = h.dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%w: %s", err, strings.TrimSpace(lastLine(stderr.String())))
	}
	return string(out), nil
}

// lastLine is the last non-empty line of s: the error a command ends on.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// Processes reads ps, which prints a command line without its argument boundaries: a
// plugin's path is taken up to the word that names the plugin, so a home directory
// with a space in its name stays whole.
func (thisHost) Processes() ([]recovery.Process, error) {
	out, err := exec.Command("ps", "-axo", "pid=,args=").Output()
	if err != nil {
		return nil, err
	}
	var procs []recovery.Process
	for _, line := range strings.Split(string(out), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		pid, err := strconv.Atoi(fields[0])
		if err != nil {
			continue
		}
		words := fields[1:]
		end := 0
		for i, w := range words {
			if strings.HasPrefix(filepath.Base(w), "pulumi-") {
				end = i
				break
			}
		}
		args := append([]string{strings.Join(words[:end+1], " ")}, words[end+1:]...)
		procs = append(procs, recovery.Process{PID: pid, Args: args})
	}
	return procs, nil
}

func (thisHost) Listening(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

// Stop sends SIGTERM, and SIGKILL after 10 seconds.
func (h thisHost) Stop(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if !h.Alive(pid) {
			return nil
		}
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

func (thisHost) Alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func (thisHost) Hostname() string {
	name, _ := os.Hostname()
	return name
}

func (thisHost) ReadFile(path string) ([]byte, error)  { return os.ReadFile(path) }
func (thisHost) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }
func (thisHost) Remove(path string) error              { return os.Remove(path) }

// DockerDelete speaks to the Docker Engine API without the docker client, which a Mac
// running the Docker target through Colima need not have.
func (thisHost) DockerDelete(host, path string) (int, error) {
	u, err := url.Parse(host)
	if err != nil {
		return 0, err
	}
	transport := &http.Transport{}
	base := "http://docker"
	switch u.Scheme {
	case "unix":
		transport.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", u.Path)
		}
	case "tcp", "http":
		base = "http://" + u.Host
	default:
		return 0, fmt.Errorf("lamina recover speaks to a Docker daemon over unix:// or tcp://, not %s; remove it with the docker client", u.Scheme)
	}
	req, err := http.NewRequest(http.MethodDelete, base+path, nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: transport, Timeout: time.Minute}).Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
