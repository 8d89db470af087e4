// Package tooltest finds the real programs a test drives (nginx, openssl): a test
// skips, saying how to install the program, or fails where RequiredEnv is set (CI).
package tooltest

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// RequiredEnv, when set, turns a missing program into a failure.
const RequiredEnv = "LAMINA_NGINX_REQUIRED"

// Find returns the path of name, looked up in PATH and in /usr/sbin (where Debian puts
// nginx), or skips the test saying why and how to install it (install).
func Find(t testing.TB, name, install string) string {
	t.Helper()
	for _, p := range []string{name, "/usr/sbin/" + name} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	msg := fmt.Sprintf("%s is not installed (%s): the test runs the real one", name, install)
	if os.Getenv(RequiredEnv) != "" {
		t.Fatalf("%s is set: %s", RequiredEnv, msg)
	}
	t.Skip(msg)
	return ""
}

// Install hints for the programs the tests drive.
const (
	Nginx   = "apt-get install nginx"
	OpenSSL = "apt-get install openssl; every Mac has it"
)
