// Command lamina shows, with no cluster, no Pulumi CLI and no passphrase, exactly what
// the Pulumi program declares for a stack.
//
//	lamina render -s <stack> [--format json|yaml] [--dir <project dir>]
//
// render runs the program under Pulumi's mocks, reading Pulumi.<stack>.yaml with the
// same validation as `pulumi up`, as `pulumi preview` would before the first `up`:
// values that only exist once a resource is created print as "[unknown]", secrets as
// "[secret]". --format json prints the whole resource graph and the stack outputs;
// --format yaml prints every Kubernetes object in dependency order.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/lamina-os/lamina-infra/internal/offline"
)

const usage = `usage: lamina render -s <stack> [--format json|yaml] [--dir <project dir>]

  render   print what the program declares for the stack, offline:
           json (default) the resource graph and stack outputs,
           yaml           every Kubernetes object, in dependency order
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status: 0 on success, 1 when the
// program or its configuration fails, 2 for a bad command line.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	switch args[0] {
	case "render":
		return render(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "lamina: unknown command %q\n%s", args[0], usage)
		return 2
	}
}

func render(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("render", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var stack, format, dir string
	fs.StringVar(&stack, "s", "", "stack name (development, production, ...)")
	fs.StringVar(&stack, "stack", "", "stack name")
	fs.StringVar(&format, "format", "json", "json or yaml")
	fs.StringVar(&dir, "dir", ".", "project directory (holds Pulumi.yaml)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if stack == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, "lamina render: -s <stack> is required and nothing else may follow the flags\n", usage)
		return 2
	}
	if format != "json" && format != "yaml" {
		fmt.Fprintf(stderr, "lamina render: --format %q is not allowed; allowed: json, yaml\n", format)
		return 2
	}
	g, err := offline.Render(dir, stack)
	if err != nil {
		fmt.Fprintf(stderr, "lamina render: %v\n", err)
		return 1
	}
	w := bufio.NewWriter(stdout)
	if format == "yaml" {
		err = g.WriteYAML(w)
	} else {
		err = g.WriteJSON(w)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil {
		fmt.Fprintf(stderr, "lamina render: %v\n", err)
		return 1
	}
	return 0
}
