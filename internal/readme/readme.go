// Package readme keeps the generated sections of the documentation (README.md and docs/:
// the configuration reference, the install-order graph) in step with the code that
// generates them, and reads its tables (the stack outputs) for the tests that hold the
// program to them.
package readme

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// Section returns the text of the file at path between the begin and end markers.
func Section(path, begin, end string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	text := string(data)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i+len(begin) {
		return "", fmt.Errorf("%s lacks the markers %q and %q", path, begin, end)
	}
	return text[i+len(begin) : j], nil
}

// Check fails t when the section of path between begin and end is not want; with
// update it rewrites the section instead. regenerate is the command that does that,
// for the failure message.
func Check(t testing.TB, path, begin, end, want string, update bool, regenerate string) {
	t.Helper()
	got, err := Section(path, begin, end)
	if err != nil {
		t.Fatal(err)
	}
	if got == want {
		return
	}
	if !update {
		t.Errorf("%s: the section after %q is stale; run: %s\nwant:\n%s", path, begin, regenerate, want)
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	i := strings.Index(text, begin) + len(begin)
	j := strings.Index(text, end)
	if err := os.WriteFile(path, []byte(text[:i]+want+text[j:]), 0o644); err != nil {
		t.Fatal(err)
	}
}
