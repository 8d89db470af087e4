// Package outputs is the contract between a stack and the scripts that use it: the
// stack outputs the program exports, as `pulumi stack output --json --show-secrets`
// prints them, and what `lamina hosts|endpoints|kubeconfig|smoke` do with them.
//
// It links neither Pulumi nor Kubernetes: the program exports these names (stacks), the
// docs/outputs.md documents them, and a test keeps the three in step.
package outputs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
)

// SchemaVersion is the version of the outputs' shape. It changes when an output is
// removed, renamed or changes type; adding one does not change it.
const SchemaVersion = 1

// Stack is a stack's outputs.
type Stack struct {
	SchemaVersion  int               `json:"schemaVersion"`
	Stack          string            `json:"stack"`
	Profile        string            `json:"profile"`
	ClusterTarget  string            `json:"clusterTarget"`
	Kubeconfig     string            `json:"kubeconfig"`
	KubeContext    string            `json:"kubeContext"`
	Nodes          []string          `json:"nodes"`
	StorageClass   string            `json:"storageClass"`
	Namespaces     []string          `json:"namespaces"`
	DataDir        string            `json:"dataDir"`
	DataDirs       map[string]string `json:"dataDirs"`
	ModelsDir      string            `json:"modelsDir"`
	ColimaProfile  string            `json:"colimaProfile"`
	VM             *VM               `json:"vm"`
	DockerHost     string            `json:"dockerHost"`
	GatewayAddress string            `json:"gatewayAddress"`
	URLs           map[string]string `json:"urls"`
	LLMURL         string            `json:"llmURL"`
	DashboardURL   string            `json:"dashboardURL"`
	MTLSMode       string            `json:"mtlsMode"`
	GrafanaUser    string            `json:"grafanaAdminUser"`
	GrafanaPass    string            `json:"grafanaAdminPassword"`
	Images         map[string]string `json:"images"`
	Tenants        map[string]Share  `json:"tenants"`
	Platform       string            `json:"platform"`
	Build          *Build            `json:"build"`
	CACertificate  string            `json:"caCertificate"`
}

// Build is the build tier: its namespace, the build environment's image, the commit
// checked and its Job (empty without a commit), and the dependency cache on the host.
type Build struct {
	Namespace string `json:"namespace"`
	Image     string `json:"image"`
	Commit    string `json:"commit"`
	Job       string `json:"job"`
	CacheDir  string `json:"cacheDir"`
}

// Share is what a tenant stack's pods may request in a VM: cores and bytes.
type Share struct {
	CPU    float64 `json:"cpu"`
	Memory float64 `json:"memory"`
}

// VM is the Colima VM's size and address.
type VM struct {
	CPUs      int    `json:"cpus"`
	MemoryGiB int    `json:"memoryGiB"`
	DiskGiB   int    `json:"diskGiB"`
	Address   string `json:"address"`
}

// Masked is how Pulumi prints a secret output without --show-secrets.
const Masked = "[secret]"

// Parse reads outputs as `pulumi stack output --json --show-secrets` prints them; name
// says where they came from, for messages.
func Parse(r io.Reader, name string) (*Stack, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s is empty; give it the output of: pulumi stack output --json --show-secrets -s <stack>", name)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%s is not the JSON object `pulumi stack output --json --show-secrets` prints: %v", name, err)
	}
	var version int
	if v, ok := raw["schemaVersion"]; !ok {
		return nil, fmt.Errorf("%s has no schemaVersion: not the outputs of a Lamina stack, or of one from before `pulumi up` exported it; run pulumi up, then pulumi stack output --json --show-secrets", name)
	} else if err := json.Unmarshal(v, &version); err != nil || version != SchemaVersion {
		return nil, fmt.Errorf("%s has schemaVersion %s; this lamina reads schemaVersion %d: use the lamina of the same checkout as the stack", name, v, SchemaVersion)
	}
	var s Stack
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&s); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("%s: output %s is a JSON %s, not the %s the contract says", name, typeErr.Field, typeErr.Value, typeErr.Type)
		}
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return &s, nil
}

// Require says which of the named outputs are missing or empty, and whether a secret
// one was printed without --show-secrets.
func (s *Stack) Require(names ...string) error {
	var missing, masked []string
	for _, n := range names {
		var empty, hidden bool
		switch n {
		case "gatewayAddress":
			empty = s.GatewayAddress == ""
		case "urls":
			empty = len(s.URLs) == 0
		case "kubeconfig":
			empty, hidden = s.Kubeconfig == "", s.Kubeconfig == Masked
		case "stack":
			empty = s.Stack == ""
		default:
			panic("outputs.Require: " + n) // our own names
		}
		if empty {
			missing = append(missing, n)
		}
		if hidden {
			masked = append(masked, n)
		}
	}
	switch {
	case len(missing) > 0:
		return fmt.Errorf("the stack outputs lack %s; has `pulumi up` finished for this stack?", strings.Join(missing, ", "))
	case len(masked) > 0:
		return fmt.Errorf("%s is %s: run pulumi stack output --json --show-secrets", strings.Join(masked, ", "), Masked)
	}
	return nil
}

// Endpoint is one hostname of the gateway.
type Endpoint struct {
	// Name is the hostname's first label (grafana), Host the hostname, URL its URL.
	Name, Host, URL string
}

// Endpoints lists the gateway's hostnames, sorted, each with the host its URL names.
func (s *Stack) Endpoints() ([]Endpoint, error) {
	var out []Endpoint
	for host, raw := range s.URLs {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" || u.Hostname() == "" {
			return nil, fmt.Errorf("output urls: %q for %s is not a URL", raw, host)
		}
		name, _, _ := strings.Cut(u.Hostname(), ".")
		out = append(out, Endpoint{Name: name, Host: u.Hostname(), URL: raw})
	}
	slices.SortFunc(out, func(a, b Endpoint) int { return strings.Compare(a.Host, b.Host) })
	return out, nil
}
