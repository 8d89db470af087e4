// Command filegraph prints, for each package directory it is given, the
// file-to-file reference graph of the package's non-test files: how many files and
// arrows, the pairs of files that refer to each other, and the cycles.
//
//	go run ./internal/filegraph/cmd/filegraph ./stacks ./stacks/config
//
// Each directory is loaded with itself as the go command's working directory, so it
// may lie in another checkout of the module (a git worktree, say).
package main

import (
	"fmt"
	"os"

	"github.com/lamina-os/lamina-infra/internal/filegraph"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: filegraph DIR...")
		os.Exit(2)
	}
	failed := false
	for i, dir := range os.Args[1:] {
		g, err := filegraph.Load(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			failed = true
			continue
		}
		if i > 0 {
			fmt.Println()
		}
		fmt.Print(g.Report())
	}
	if failed {
		os.Exit(1)
	}
}
