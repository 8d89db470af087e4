// Command lamina shows, with no cluster, no Pulumi CLI and no passphrase, exactly what
// the Pulumi program declares for a stack, and checks it against the policy pack.
//
//	lamina render -s <stack> [--format json|yaml] [--dir <project dir>]
//	lamina check  -s <stack> [--dir <project dir>] [--policy-pack <dir>]
//
// render runs the program under Pulumi's mocks, reading Pulumi.<stack>.yaml with the
// same validation as `pulumi up`, as `pulumi preview` would before the first `up`:
// values that only exist once a resource is created print as "[unknown]", secrets as
// "[secret]". --format json prints the whole resource graph and the stack outputs;
// --format yaml prints every Kubernetes object in dependency order.
//
// check evaluates the policy pack (policy/, built into the binary unless --policy-pack
// names another directory) on every resource of the same render, as Pulumi's OPA
// analyzer does in `pulumi preview --policy-pack policy`, runs the stack-wide checks the
// analyzer cannot (it sees one resource at a time), prints the violations as Pulumi does
// and exits 1 on any mandatory one.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"

	installgraph "github.com/lamina-os/lamina-infra/internal/graph"
	"github.com/lamina-os/lamina-infra/policy"
	"github.com/lamina-os/lamina-infra/stacks/offline"
)

const usage = `usage: lamina render -s <stack> [--format json|yaml] [--dir <project dir>] [--assume-secret <key>]...
       lamina check  -s <stack> [--dir <project dir>] [--policy-pack <dir>] [--assume-secret <key>]...
       lamina graph  -s <stack> [--format mermaid|dot] [--dir <project dir>] [--assume-secret <key>]...
       lamina doctor -s <stack> [--dir <project dir>]
       lamina recover -s <stack> [--dir <project dir>]
       lamina build-check -s <stack> [-f <outputs.json>] [--commit <id>] [--dry-run]
       lamina hosts      [-f <outputs.json>] [--apply [--hosts-file /etc/hosts] [--sudo]]
       lamina endpoints  [-f <outputs.json>]
       lamina kubeconfig [-f <outputs.json>] [-o <path>]
       lamina smoke      [-f <outputs.json>] [--cacert <ca.pem> | --insecure] [--timeout 10s]

  render   print what the program declares for the stack, offline:
           json (default) the resource graph and stack outputs,
           yaml           every Kubernetes object, in dependency order
  check    evaluate the policy pack on everything the stack declares, plus the
           stack-wide checks; exit 1 on any mandatory violation
  graph    the install order: the stack's components and slow steps, and the
           critical path, as Mermaid (default) or DOT
  doctor   check this Mac for the stack before pulumi up changes anything: macOS,
           the chip, colima, pulumi and kubectl, memory, disk, the passphrase,
           the hosts entries; exit 1 on any failure, each with its fix
  recover  repair a stack whose last pulumi up was killed (kill -9, a crash, a closed
           lid): stop the plugins it left running, forget Helm's records of the
           releases the state does not hold (their objects stay) and remove its
           Docker containers and networks (volumes stay), remove the lock of a
           pulumi that is gone and clear the pending creates; changes nothing
           while a pulumi still runs on the stack, or when the last run ended
           normally. make up runs it first
  build-check  run the build tier's check of a commit (lamina:build.command, by
           default make check) on this Mac, in the image the stack built, on its
           Docker daemon, as the Job in lamina-build does; reads the outputs too:
      pulumi stack output --json -s production | lamina build-check -s production

  hosts, endpoints, kubeconfig and smoke read a stack's outputs, from -f or stdin:
      pulumi stack output --json --show-secrets -s <stack> | lamina hosts
  hosts       print the /etc/hosts lines of every hostname; --apply writes them
              between this stack's markers (idempotent), --sudo when not writable
  endpoints   a table of the services' URLs
  kubeconfig  write the kubeconfig, mode 0600 (default ~/.kube/lamina-<stack>)
  smoke       request every URL through the gateway's address (as curl --resolve
              does) and report each service; exit 1 when any fails

  --assume-secret lamina:grafana.adminPassword takes a required secret as set, for a
  checkout whose stack file does not hold it yet (it renders as "[secret]")
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit status: 0 on success, 1 when the
// program or its configuration fails, 2 for a bad command line.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
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
	case "check":
		return check(args[1:], stdout, stderr)
	case "graph":
		return graph(args[1:], stdout, stderr)
	case "hosts":
		return hosts(args[1:], stdin, stdout, stderr)
	case "endpoints":
		return endpoints(args[1:], stdin, stdout, stderr)
	case "kubeconfig":
		return kubeconfig(args[1:], stdin, stdout, stderr)
	case "smoke":
		return smoke(args[1:], stdin, stdout, stderr)
	case "doctor":
		return doctorCmd(args[1:], stdout, stderr)
	case "build-check":
		return buildCheck(args[1:], stdin, stdout, stderr)
	case "recover":
		return recoverCmd(args[1:], stdout, stderr)
	default:
		fmt.Fprintf(stderr, "lamina: unknown command %q\n%s", args[0], usage)
		return 2
	}
}

// flags holds a subcommand's command line; every subcommand takes -s, --dir and
// --assume-secret.
type flags struct {
	*flag.FlagSet
	stack, dir string
	secrets    []string
}

func newFlags(name string, stderr io.Writer) *flags {
	f := &flags{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	f.SetOutput(stderr)
	f.StringVar(&f.stack, "s", "", "stack name (development, production, ...)")
	f.StringVar(&f.stack, "stack", "", "stack name")
	f.StringVar(&f.dir, "dir", ".", "project directory (holds Pulumi.yaml)")
	f.Func("assume-secret", "take `lamina:section.field` as set to a secret this checkout does not hold (repeatable)", func(v string) error {
		f.secrets = append(f.secrets, v)
		return nil
	})
	return f
}

// parse reads args and says whether the command line is whole: a stack and no stray
// arguments.
func (f *flags) parse(args []string, stderr io.Writer) bool {
	if err := f.Parse(args); err != nil {
		return false
	}
	if f.stack == "" || f.NArg() > 0 {
		fmt.Fprintf(stderr, "lamina %s: -s <stack> is required and nothing else may follow the flags\n%s", f.Name(), usage)
		return false
	}
	return true
}

func render(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("render", stderr)
	var format string
	fs.StringVar(&format, "format", "json", "json or yaml")
	if !fs.parse(args, stderr) {
		return 2
	}
	stack, dir := fs.stack, fs.dir
	if format != "json" && format != "yaml" {
		fmt.Fprintf(stderr, "lamina render: --format %q is not allowed; allowed: json, yaml\n", format)
		return 2
	}
	g, err := offline.Render(dir, stack, fs.secrets...)
	if err != nil {
		fmt.Fprintf(stderr, "lamina render: %v\n", err)
		return 1
	}
	w := bufio.NewWriter(stdout)
	if format == "yaml" {
		if target, _ := g.Outputs["clusterTarget"].(string); target == "docker" {
			// Nothing of Kubernetes to print: say so, and where its containers are.
			_, err = fmt.Fprintf(w, "# stack %s declares no Kubernetes object (lamina:cluster.target docker); lamina render -s %s --format json shows its containers and networks\n", stack, stack)
		} else {
			err = g.WriteYAML(w)
		}
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

func check(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check", stderr)
	var packDir string
	fs.StringVar(&packDir, "policy-pack", "", "policy pack directory (default: the pack built into lamina from policy/)")
	if !fs.parse(args, stderr) {
		return 2
	}
	pack, err := loadPack(packDir)
	if err != nil {
		fmt.Fprintf(stderr, "lamina check: %v\n", err)
		return 1
	}
	g, refs, err := offline.RenderWith(fs.dir, fs.stack, fs.secrets...)
	if err != nil {
		fmt.Fprintf(stderr, "lamina check: %v\n", err)
		return 1
	}
	// The stacks it reads share its cluster (its platform, the stack it promotes from).
	report, err := offline.Check(context.Background(), pack, g, slices.Collect(maps.Values(refs))...)
	if err != nil {
		fmt.Fprintf(stderr, "lamina check: %v\n", err)
		return 1
	}
	if err := report.Write(stdout); err != nil {
		fmt.Fprintf(stderr, "lamina check: %v\n", err)
		return 1
	}
	if report.Count(policy.Mandatory) > 0 {
		return 1
	}
	return 0
}

func loadPack(dir string) (*policy.Pack, error) {
	if dir == "" {
		return policy.Load()
	}
	return policy.LoadFS(os.DirFS(dir))
}

func graph(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("graph", stderr)
	var format string
	fs.StringVar(&format, "format", "mermaid", "mermaid or dot")
	if !fs.parse(args, stderr) {
		return 2
	}
	if format != "mermaid" && format != "dot" {
		fmt.Fprintf(stderr, "lamina graph: --format %q is not allowed; allowed: mermaid, dot\n", format)
		return 2
	}
	g, err := offline.Render(fs.dir, fs.stack, fs.secrets...)
	if err != nil {
		fmt.Fprintf(stderr, "lamina graph: %v\n", err)
		return 1
	}
	steps := installgraph.Build(g)
	if format == "dot" {
		err = steps.DOT(stdout)
	} else {
		err = steps.Mermaid(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lamina graph: %v\n", err)
		return 1
	}
	return 0
}
