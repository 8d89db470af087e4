package readme

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// root is the repository, two directories up.
const root = "../.."

var (
	link    = regexp.MustCompile(`\]\(([^)#\s]+\.md)(#[^)\s]+)?\)`)
	heading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
)

// anchor is the fragment GitHub gives a heading.
func anchor(title string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(title) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// The README is short and points at every document in docs/; every link between them
// reaches a file, and a heading where it names one.
func TestEveryDocumentIsLinkedAndEveryLinkResolves(t *testing.T) {
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no documents in docs/: %v", err)
	}
	linked := map[string]bool{}
	for _, file := range append([]string{filepath.Join(root, "README.md")}, docs...) {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(data), -1) {
			if strings.Contains(m[1], "://") {
				continue
			}
			target := filepath.Clean(filepath.Join(filepath.Dir(file), m[1]))
			linked[target] = true
			body, err := os.ReadFile(target)
			if err != nil {
				t.Errorf("%s links %s, which does not exist", file, m[1])
				continue
			}
			if m[2] == "" {
				continue
			}
			var anchors []string
			for _, h := range heading.FindAllStringSubmatch(string(body), -1) {
				anchors = append(anchors, anchor(h[1]))
			}
			if !slices.Contains(anchors, strings.TrimPrefix(m[2], "#")) {
				t.Errorf("%s links %s%s, but %s has no such heading", file, m[1], m[2], m[1])
			}
		}
	}
	for _, d := range docs {
		if !linked[filepath.Clean(d)] {
			t.Errorf("%s is linked from nowhere: add it to the README's Documentation table", d)
		}
	}
	readme, _ := os.ReadFile(filepath.Join(root, "README.md"))
	if n := strings.Count(string(readme), "\n"); n > 150 {
		t.Errorf("README.md has %d lines; keep it to what a user reads first (at most 150), and the reference in docs/", n)
	}
}
