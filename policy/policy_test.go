package policy

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"gopkg.in/yaml.v3"
)

// fixture is one resource and every violation the pack must report for it.
type fixture struct {
	Case   string `yaml:"case"`
	Policy string `yaml:"policy"`
	// Type is the Pulumi type; by default kubernetes:<apiVersion>:<kind>.
	Type string `yaml:"type"`
	// Bare hands the rules the properties alone, as analyzers before __type did.
	Bare bool `yaml:"bare"`
	// Unknown lists paths (keys joined by dots) whose values are not known yet, handed
	// over as the OPA analyzer hands an unknown: a resource.Computed through Mappable, as
	// a preview before the first up does for what another resource outputs.
	Unknown  []string            `yaml:"unknown"`
	Resource map[string]any      `yaml:"resource"`
	Want     map[string][]string `yaml:"want"`

	file string
}

func loadFixtures(t *testing.T) []fixture {
	t.Helper()
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in testdata: %v", err)
	}
	var all []fixture
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var cases []fixture
		if err := yaml.Unmarshal(data, &cases); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i := range cases {
			cases[i].file = f
		}
		all = append(all, cases...)
	}
	return all
}

func load(t *testing.T) *Pack {
	t.Helper()
	p, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f fixture) pulumiType() string {
	if f.Type != "" {
		return f.Type
	}
	apiVersion, _ := f.Resource["apiVersion"].(string)
	kind, _ := f.Resource["kind"].(string)
	if kind == "" {
		return ""
	}
	if !strings.Contains(apiVersion, "/") {
		apiVersion = "core/" + apiVersion
	}
	return "kubernetes:" + apiVersion + ":" + kind
}

// evaluate runs every rule of the pack on the fixture, under the analyzer's contract.
func (f fixture) evaluate(t *testing.T, p *Pack) map[string][]string {
	t.Helper()
	props := f.Resource
	if len(f.Unknown) > 0 {
		props = analyzerView(t, f.Resource, f.Unknown)
	}
	r := Resource{URN: "urn:pulumi:test::lamina-infra::" + f.pulumiType() + "::x", Type: f.pulumiType(), Name: "x", Properties: props}
	in := Input(r)
	if f.Bare {
		in = props
	}
	got := map[string][]string{}
	for _, rule := range p.Rules {
		msgs, err := messages(context.Background(), rule.query, in)
		if err != nil {
			t.Fatalf("%s: %v", rule.Name, err)
		}
		if len(msgs) > 0 {
			slices.Sort(msgs)
			got[rule.Name] = msgs
		}
	}
	return got
}

// analyzerView is what pulumi-analyzer-policy-opa hands the rules for properties whose
// values at paths are unknown: the property map's Mappable, where an unknown is a
// resource.Computed, which OPA reads as {"Element": {"V": ...}}.
func analyzerView(t *testing.T, properties map[string]any, paths []string) map[string]any {
	t.Helper()
	pm := resource.NewPropertyMapFromMap(properties)
	for _, path := range paths {
		all := strings.Split(path, ".")
		m := pm
		keys := all[:len(all)-1]
		for i := 0; i < len(keys); i++ {
			v, ok := m[resource.PropertyKey(keys[i])]
			// A list's element, by its index: networksAdvanced.0.name.
			if ok && v.IsArray() && i+1 < len(keys) {
				n, err := strconv.Atoi(keys[i+1])
				if err != nil || n >= len(v.ArrayValue()) {
					t.Fatalf("unknown %s: no element %s of %s", path, keys[i+1], keys[i])
				}
				v, i = v.ArrayValue()[n], i+1
			}
			if !ok || !v.IsObject() {
				t.Fatalf("unknown %s: no object at %s", path, keys[i])
			}
			m = v.ObjectValue()
		}
		m[resource.PropertyKey(all[len(all)-1])] = resource.MakeComputed(resource.NewStringProperty(""))
	}
	return pm.Mappable()
}

// Every fixture gets exactly the violations it lists, from every rule of the pack.
func TestRulesOnFixtures(t *testing.T) {
	p := load(t)
	for _, f := range loadFixtures(t) {
		t.Run(strings.TrimSuffix(filepath.Base(f.file), ".yaml")+"/"+f.Case, func(t *testing.T) {
			got := f.evaluate(t, p)
			for rule, want := range f.Want {
				slices.Sort(want)
				if !slices.Equal(got[rule], want) {
					t.Errorf("%s:\n got  %q\n want %q", rule, got[rule], want)
				}
			}
			for rule, msgs := range got {
				if _, ok := f.Want[rule]; !ok {
					t.Errorf("%s fires unexpectedly: %q", rule, msgs)
				}
			}
		})
	}
}

// Each rule has a fixture it rejects and one of its kind it accepts.
func TestEveryRuleHasViolatingAndCompliantFixtures(t *testing.T) {
	p := load(t)
	violating, compliant := map[string]int{}, map[string]int{}
	for _, f := range loadFixtures(t) {
		if p.Rule(f.Policy) == nil {
			t.Errorf("%s: case %q names policy %q, which the pack does not have", f.file, f.Case, f.Policy)
		}
		if len(f.Want[f.Policy]) > 0 {
			violating[f.Policy]++
		} else {
			compliant[f.Policy]++
		}
	}
	for _, r := range p.Rules {
		if violating[r.Name] == 0 || compliant[r.Name] == 0 {
			t.Errorf("%s has %d violating and %d compliant fixtures; want at least one of each", r.Name, violating[r.Name], compliant[r.Name])
		}
	}
}

// The pack is what `pulumi preview --policy-pack policy` loads: one package, each policy
// defined once with a title, and the mandatory rules the platform relies on.
func TestPackAsTheAnalyzerLoadsIt(t *testing.T) {
	p := load(t)
	if p.Name != "lamina" || p.Version != "1.0.0" {
		t.Errorf("pack %s@%s, want lamina@1.0.0", p.Name, p.Version)
	}
	var mandatory, advisory []string
	for _, r := range p.Rules {
		if r.Title == "" || r.Description == "" {
			t.Errorf("%s (%s) has no METADATA title and description", r.Name, r.File)
		}
		if r.Level == Mandatory {
			mandatory = append(mandatory, r.Name)
		} else {
			advisory = append(advisory, r.Name)
		}
	}
	wantMandatory := []string{
		"deny_authorization_policy_unnamed_source", "deny_destination_rule_tls",
		"deny_docker_env_credentials", "deny_docker_privileged", "deny_docker_published_port", "deny_docker_service_unproxied", "deny_gateway_tls",
		"deny_helm_inline_credentials", "deny_namespace_outside_mesh", "deny_peer_authentication_not_strict",
		"deny_service_exposed", "deny_sidecar_injection_disabled",
	}
	wantAdvisory := []string{"warn_container_runs_as_root", "warn_container_without_limits", "warn_image_latest", "warn_replicas_not_spread"}
	if !slices.Equal(mandatory, wantMandatory) || !slices.Equal(advisory, wantAdvisory) {
		t.Errorf("mandatory %q\nadvisory %q", mandatory, advisory)
	}
}

// The analyzer parses as Rego v0; `import rego.v1` must make every file legal there and
// under v1, which later analyzers may use.
func TestRegoParsesAsV0AndV1(t *testing.T) {
	files, _ := filepath.Glob("*.rego")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []ast.RegoVersion{ast.RegoV0, ast.RegoV1} {
			m, err := ast.ParseModuleWithOpts(f, string(src), ast.ParserOptions{RegoVersion: v})
			if err != nil {
				t.Errorf("%s as %v: %v", f, v, err)
				continue
			}
			if !slices.ContainsFunc(m.Imports, func(i *ast.Import) bool { return i.Path.String() == "rego.v1" }) {
				t.Errorf("%s does not import rego.v1", f)
			}
		}
	}
}

func TestLoadRefusesWhatTheAnalyzerWouldNot(t *testing.T) {
	manifest := &fstest.MapFile{Data: []byte("runtime: opa\nversion: 0.0.1\n")}
	for name, tc := range map[string]struct {
		fs   fstest.MapFS
		want string
	}{
		"two packages": {fstest.MapFS{
			"PulumiPolicy.yaml": manifest,
			"a.rego":            {Data: []byte("package a\nimport rego.v1\ndeny_x contains 1 if false\n")},
			"b.rego":            {Data: []byte("package b\nimport rego.v1\n")},
		}, "policy pack: b.rego is package b, the others a; Pulumi's OPA analyzer needs one package per pack"},
		"a policy defined twice": {fstest.MapFS{
			"PulumiPolicy.yaml": manifest,
			"a.rego":            {Data: []byte("package a\nimport rego.v1\ndeny_x contains 1 if false\n")},
			"b.rego":            {Data: []byte("package a\nimport rego.v1\ndeny_x contains 2 if false\n")},
		}, "policy pack: rule deny_x is defined in a.rego and again in b.rego; define each policy once (collect cases in a helper set)"},
		"another runtime": {fstest.MapFS{
			"PulumiPolicy.yaml": {Data: []byte("runtime: nodejs\n")},
			"a.rego":            {Data: []byte("package a\n")},
		}, `policy pack: PulumiPolicy.yaml: runtime is "nodejs"; the pack is Rego, so it must be opa`},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := LoadFS(tc.fs)
			if err == nil || err.Error() != tc.want {
				t.Errorf("error = %v\nwant    %s", err, tc.want)
			}
		})
	}
}

// A credential's value never reaches a message: a reviewer reads them in CI logs.
func TestMessagesNeverQuoteCredentialValues(t *testing.T) {
	p := load(t)
	values := map[string]any{"adminPassword": "hunter2-value", "auth": map[string]any{"token": "tok-value"}}
	v, err := p.Evaluate(context.Background(), Resource{URN: "u", Type: "kubernetes:helm.sh/v3:Release",
		Properties: map[string]any{"name": "grafana", "chart": "grafana", "namespace": "monitoring", "values": values}})
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 2 {
		t.Fatalf("violations = %+v, want two", v)
	}
	for _, x := range v {
		if strings.Contains(x.Message, "hunter2") || strings.Contains(x.Message, "tok-value") {
			t.Errorf("message quotes a credential: %s", x.Message)
		}
	}
}

func namespace(name string, labels map[string]any) Resource {
	return Resource{URN: "ns-" + name, Type: "kubernetes:core/v1:Namespace", Properties: map[string]any{
		"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name, "labels": labels}}}
}

func istio(kind, ns, name string, spec map[string]any) Resource {
	return Resource{URN: kind + "-" + ns + "-" + name, Type: "kubernetes:security.istio.io/v1:" + kind, Properties: map[string]any{
		"apiVersion": "security.istio.io/v1", "kind": kind,
		"metadata": map[string]any{"name": name, "namespace": ns}, "spec": spec}}
}

// container is a Docker container of the Docker target on networks.
func container(name, role, service string, networks ...string) Resource {
	var nets []any
	for _, n := range networks {
		nets = append(nets, map[string]any{"name": n})
	}
	return Resource{URN: "container-" + name, Type: "docker:index/container:Container", Properties: map[string]any{
		"name": name, "networksAdvanced": nets,
		"labels": []any{map[string]any{"label": "lamina.io/role", "value": role}, map[string]any{"label": "lamina.io/service", "value": service}},
	}}
}

// workload is a Deployment or StatefulSet of replicas whose pods carry labels.
func workload(kind, namespace, name string, replicas int, labels map[string]any) Resource {
	return Resource{URN: kind + "-" + name, Type: "kubernetes:apps/v1:" + kind, Properties: map[string]any{
		"apiVersion": "apps/v1", "kind": kind, "metadata": map[string]any{"name": name, "namespace": namespace},
		"spec": map[string]any{"replicas": float64(replicas), "template": map[string]any{"metadata": map[string]any{"labels": labels}}},
	}}
}

// budget is a PodDisruptionBudget selecting matchLabels.
func budget(namespace, name string, matchLabels map[string]any) Resource {
	return Resource{URN: "pdb-" + name, Type: "kubernetes:policy/v1:PodDisruptionBudget", Properties: map[string]any{
		"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": map[string]any{"name": name, "namespace": namespace},
		"spec": map[string]any{"maxUnavailable": float64(1), "selector": map[string]any{"matchLabels": matchLabels}},
	}}
}

// nodeVolume is a PersistentVolume on a node's disk: of type local or hostPath, at path.
func nodeVolume(name, typ, path string) Resource {
	return Resource{URN: "pv-" + name, Type: "kubernetes:core/v1:PersistentVolume", Properties: map[string]any{
		"apiVersion": "v1", "kind": "PersistentVolume", "metadata": map[string]any{"name": name},
		"spec": map[string]any{typ: map[string]any{"path": path}, "capacity": map[string]any{"storage": "10Gi"}},
	}}
}

// hostDirs is a Job in kube-system whose pod mounts the node's path.
func hostDirs(name, path string) Resource {
	return Resource{URN: "job-" + name, Type: "kubernetes:batch/v1:Job", Properties: map[string]any{
		"apiVersion": "batch/v1", "kind": "Job", "metadata": map[string]any{"name": name, "namespace": "kube-system"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"volumes": []any{map[string]any{"name": "data", "hostPath": map[string]any{"path": path, "type": "DirectoryOrCreate"}}},
		}}},
	}}
}

func TestStackWideChecks(t *testing.T) {
	p := load(t)
	enabled := map[string]any{"istio-injection": "enabled"}
	strict := map[string]any{"mtls": map[string]any{"mode": "STRICT"}}
	base := []Resource{
		namespace("istio-system", map[string]any{"istio-injection": "disabled"}),
		namespace("istio-gateway", enabled),
		namespace("lamina-system", enabled),
		namespace("monitoring", map[string]any{"istio.io/rev": "1-31-1"}),
		istio("PeerAuthentication", "istio-system", "default", strict),
		istio("AuthorizationPolicy", "lamina-system", "deny-all", map[string]any{}),
		istio("AuthorizationPolicy", "monitoring", "deny-all", map[string]any{}),
	}
	for name, tc := range map[string]struct {
		resources []Resource
		want      []string
	}{
		"complete": {base, nil},
		"mesh-wide policy only for some workloads": {append(slices.Clone(base[:4]),
			istio("PeerAuthentication", "istio-system", "default", map[string]any{"mtls": map[string]any{"mode": "STRICT"}, "selector": map[string]any{"matchLabels": map[string]any{"app": "x"}}}),
			base[5], base[6]),
			[]string{StackMeshWideStrict + ": no mesh-wide PeerAuthentication: declare one in the root namespace istio-system with no selector and spec.mtls.mode STRICT"}},
		"STRICT outside the root namespace": {append(slices.Clone(base[:4]),
			istio("PeerAuthentication", "lamina-system", "default", strict), base[5], base[6]),
			[]string{StackMeshWideStrict + ": no mesh-wide PeerAuthentication: declare one in the root namespace istio-system with no selector and spec.mtls.mode STRICT"}},
		// The Docker target: no Kubernetes, so no mesh to check; its private networks.
		"a service and its proxy alone on its network": {[]Resource{
			container("lamina-loki", "app", "loki", "lamina-loki"),
			container("lamina-loki-proxy", "proxy", "loki", "lamina-loki", "lamina-mesh"),
			container("lamina-grafana-proxy", "proxy", "grafana", "lamina-grafana", "lamina-mesh"),
		}, nil},
		"another proxy on a service's network": {[]Resource{
			container("lamina-loki", "app", "loki", "lamina-loki"),
			container("lamina-loki-proxy", "proxy", "loki", "lamina-loki", "lamina-mesh"),
			container("lamina-grafana-proxy", "proxy", "grafana", "lamina-grafana", "lamina-mesh", "lamina-loki"),
		}, []string{StackDockerPrivateNetworks + ": container lamina-grafana-proxy shares network lamina-loki with service container lamina-loki, which only loki's proxy may reach; give it a network of its own"}},
		// Several replicas need a budget of their namespace that selects their pods.
		"replicas with their budget, and one replica without": {append(slices.Clone(base),
			workload("Deployment", "lamina-system", "lamina-core", 2, map[string]any{"app.kubernetes.io/name": "lamina-core", "tier": "agents"}),
			budget("lamina-system", "lamina-core", map[string]any{"app.kubernetes.io/name": "lamina-core"}),
			workload("StatefulSet", "lamina-system", "chromadb", 1, map[string]any{"app.kubernetes.io/name": "chromadb"})), nil},
		"replicas whose budget selects other pods or lives elsewhere": {append(slices.Clone(base),
			workload("Deployment", "lamina-system", "lamina-core", 2, map[string]any{"app.kubernetes.io/name": "lamina-core"}),
			budget("lamina-system", "dashboard", map[string]any{"app.kubernetes.io/name": "lamina-dashboard"}),
			budget("monitoring", "lamina-core", map[string]any{"app.kubernetes.io/name": "lamina-core"})),
			[]string{StackReplicasBudgeted + ": Deployment lamina-system/lamina-core runs several replicas but no PodDisruptionBudget in its namespace selects its pods; declare one (maxUnavailable 1), so that a node's drain keeps the service up"}},
		// A node's own disk only in the stack's (or its platform's) Colima VM.
		"a host-path volume and a host-directory pod in the Colima VM": {append(slices.Clone(base),
			Resource{URN: "vm", Type: "lamina:colima:ColimaVM"}, nodeVolume("models-data-volume", "hostPath", "/Users/Shared/lamina/models"),
			hostDirs("cluster-host-dirs", "/Users/Shared/lamina")), nil},
		"a local volume and a host-directory pod on another cluster": {append(slices.Clone(base),
			nodeVolume("models-data-volume", "local", "/srv/lamina/models"), hostDirs("cluster-host-dirs", "/srv/lamina"),
			workload("Deployment", "lamina-system", "lamina-core", 1, nil)),
			[]string{
				StackNodeStorageOnColima + ": PersistentVolume /models-data-volume keeps its data in local path /srv/lamina/models on one node, and this stack runs no Colima VM: on a cluster of several nodes the data is pinned to that node and lost with it; claim a StorageClass of the cluster instead (lamina:storage)",
				StackNodeStorageOnColima + ": Job kube-system/cluster-host-dirs mounts the node's /srv/lamina (volume data), and this stack runs no Colima VM: the pod reads or writes one node's disk of many; use a claim of the cluster's StorageClass (lamina:storage) or nothing of the node's",
			}},
		"a namespace without default deny": {append(slices.Clone(base[:5]), base[5],
			istio("AuthorizationPolicy", "monitoring", "deny-all", map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "grafana"}}})),
			[]string{StackDefaultDeny + ": namespace monitoring is in the mesh but has no default-deny AuthorizationPolicy: declare one with an empty spec (no selector, no rules), so that only the declared flows are allowed"}},
	} {
		t.Run(name, func(t *testing.T) {
			v, err := p.CheckStack(context.Background(), "urn:stack", tc.resources)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, x := range v {
				if x.URN != "urn:stack" || x.Level != Mandatory {
					t.Errorf("violation %+v: want the stack's URN and mandatory", x)
				}
				got = append(got, x.Policy+": "+x.Message)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// docs/offline.md lists every stack-wide check by name, as `lamina check` runs them.
func TestEveryStackWideCheckIsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "offline.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range StackChecks {
		if !strings.Contains(string(doc), "- `"+name+"`:") {
			t.Errorf("docs/offline.md does not describe the stack-wide check %s (a list item \"- `%s`: ...\")", name, name)
		}
	}
}
