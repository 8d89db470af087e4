package policy

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
)

// The stack-wide checks. The analyzer hands a rule one resource at a time, so these run
// only in `lamina check`; they take their namespaces from the pack's data.
const (
	// StackMeshWideStrict: a PeerAuthentication in the mesh root namespace, without a
	// selector, sets mTLS mode STRICT for the whole mesh.
	StackMeshWideStrict = "stack_mesh_wide_strict_mtls"
	// StackDefaultDeny: every namespace in the mesh, but the gateway's, has an
	// allow-nothing AuthorizationPolicy (no selector, no rules), so that only the
	// declared flows are allowed.
	StackDefaultDeny = "stack_default_deny_per_namespace"
	// StackDockerPrivateNetworks: on the Docker target, a service's private network
	// holds its container and its proxy and nothing else, so that only the proxy
	// reaches the service.
	StackDockerPrivateNetworks = "stack_docker_private_networks"
	// StackReplicasBudgeted: a Deployment or StatefulSet of more than one replica has a
	// PodDisruptionBudget in its namespace that selects its pods, so that a node's drain
	// keeps the service up.
	StackReplicasBudgeted = "stack_replicas_budgeted"
	// StackNodeStorageOnColima: a volume on a node's own disk (a PersistentVolume of
	// type local or hostPath, or a hostPath volume in a pod the stack declares) only
	// where the stack, or the platform it joins, runs its own Colima VM: one node, whose
	// disk is the Mac's. On any other cluster such a volume pins its data to one node of
	// many and is lost with it; volumes there are claims of the cluster's classes.
	StackNodeStorageOnColima = "stack_node_storage_on_colima_only"
)

// colimaVM is the type of the Colima target's VM (components/colima).
const colimaVM = "lamina:colima:ColimaVM"

// StackChecks are the names of the stack-wide checks.
var StackChecks = []string{StackMeshWideStrict, StackDefaultDeny, StackDockerPrivateNetworks, StackReplicasBudgeted, StackNodeStorageOnColima}

// podKinds are the kinds whose pod template (or, for a Pod, whose spec) can mount a
// volume.
var podKinds = map[string]bool{"Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true, "Job": true, "CronJob": true, "Pod": true}

// checkNodeStorage runs StackNodeStorageOnColima. Charts' pods are the charts' (Vector
// reads the nodes' pod logs through host paths, on any cluster).
func checkNodeStorage(stackURN string, resources []Resource) []Violation {
	if slices.ContainsFunc(resources, func(r Resource) bool { return r.Type == colimaVM }) {
		return nil
	}
	var out []Violation
	for _, r := range resources {
		props := r.Properties
		kind, _ := props["kind"].(string)
		name := fmt.Sprintf("%s %s/%s", kind, str(props, "metadata", "namespace"), str(props, "metadata", "name"))
		switch {
		case kind == "PersistentVolume" && props["apiVersion"] == "v1":
			spec := asMap(props["spec"])
			for _, t := range []string{"local", "hostPath"} {
				if spec[t] != nil {
					out = append(out, Violation{Policy: StackNodeStorageOnColima, URN: stackURN, Level: Mandatory, Message: fmt.Sprintf(
						"%s keeps its data in %s on one node, and this stack runs no Colima VM: on a cluster of several nodes the data is pinned to that node and lost with it; claim a StorageClass of the cluster instead (lamina:storage)", name, t+" path "+str(spec, t, "path"))})
				}
			}
		case podKinds[kind]:
			pod := mapAt(props, "spec", "template", "spec")
			switch kind {
			case "Pod":
				pod = asMap(props["spec"])
			case "CronJob":
				pod = mapAt(props, "spec", "jobTemplate", "spec", "template", "spec")
			}
			for _, v := range asList(pod["volumes"]) {
				if vol := asMap(v); vol["hostPath"] != nil {
					out = append(out, Violation{Policy: StackNodeStorageOnColima, URN: stackURN, Level: Mandatory, Message: fmt.Sprintf(
						"%s mounts the node's %s (volume %s), and this stack runs no Colima VM: the pod reads or writes one node's disk of many; use a claim of the cluster's StorageClass (lamina:storage) or nothing of the node's", name, str(vol, "hostPath", "path"), str(vol, "name"))})
				}
			}
		}
	}
	return out
}

// checkBudgets runs StackReplicasBudgeted.
func checkBudgets(stackURN string, resources []Resource) []Violation {
	type workload struct {
		kind, namespace, name string
		labels                map[string]any
	}
	var replicated []workload
	budgets := map[string][]map[string]any{}
	for _, r := range resources {
		props := r.Properties
		kind, _ := props["kind"].(string)
		ns := str(props, "metadata", "namespace")
		switch apiVersion, _ := props["apiVersion"].(string); {
		case apiVersion == "apps/v1" && (kind == "Deployment" || kind == "StatefulSet"):
			if replicas, _ := asMap(props["spec"])["replicas"].(float64); replicas > 1 {
				replicated = append(replicated, workload{kind, ns, str(props, "metadata", "name"), mapAt(props, "spec", "template", "metadata", "labels")})
			}
		case apiVersion == "policy/v1" && kind == "PodDisruptionBudget":
			budgets[ns] = append(budgets[ns], mapAt(props, "spec", "selector", "matchLabels"))
		}
	}
	var out []Violation
	for _, w := range replicated {
		covered := slices.ContainsFunc(budgets[w.namespace], func(selector map[string]any) bool {
			for k, v := range selector {
				if w.labels[k] != v {
					return false
				}
			}
			return len(selector) > 0
		})
		if !covered {
			out = append(out, Violation{Policy: StackReplicasBudgeted, URN: stackURN, Level: Mandatory, Message: fmt.Sprintf(
				"%s %s/%s runs several replicas but no PodDisruptionBudget in its namespace selects its pods; declare one (maxUnavailable 1), so that a node's drain keeps the service up", w.kind, w.namespace, w.name)})
		}
	}
	return out
}

// dockerContainer is what the stack-wide check reads of a Docker container.
type dockerContainer struct {
	name, role, service string
	networks            []string
}

// checkDockerNetworks runs StackDockerPrivateNetworks.
func checkDockerNetworks(stackURN string, resources []Resource) []Violation {
	members := map[string][]dockerContainer{}
	var apps []dockerContainer
	for _, r := range resources {
		if r.Type != "docker:index/container:Container" {
			continue
		}
		c := dockerContainer{name: str(r.Properties, "name")}
		for _, l := range asList(r.Properties["labels"]) {
			switch str(asMap(l), "label") {
			case "lamina.io/role":
				c.role = str(asMap(l), "value")
			case "lamina.io/service":
				c.service = str(asMap(l), "value")
			}
		}
		for _, n := range asList(r.Properties["networksAdvanced"]) {
			name := str(asMap(n), "name")
			c.networks = append(c.networks, name)
			members[name] = append(members[name], c)
		}
		if c.role == "app" {
			apps = append(apps, c)
		}
	}
	var out []Violation
	for _, app := range apps {
		for _, network := range app.networks {
			for _, other := range members[network] {
				if other.name != app.name && (other.role != "proxy" || other.service != app.service) {
					out = append(out, Violation{Policy: StackDockerPrivateNetworks, URN: stackURN, Level: Mandatory, Message: fmt.Sprintf(
						"container %s shares network %s with service container %s, which only %s's proxy may reach; give it a network of its own", other.name, network, app.name, app.service)})
				}
			}
		}
	}
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// CheckStack runs the stack-wide checks on every resource of a stack; stackURN names
// the stack in the violations.
func (p *Pack) CheckStack(ctx context.Context, stackURN string, resources []Resource) ([]Violation, error) {
	root, err := p.stringValue(ctx, "mesh_root_namespace")
	if err != nil {
		return nil, err
	}
	gateways, err := p.stringSet(ctx, "gateway_namespaces")
	if err != nil {
		return nil, err
	}

	var meshWide, kubernetes bool
	var meshNamespaces []string
	defaultDeny := map[string]bool{}
	for _, r := range resources {
		kubernetes = kubernetes || strings.HasPrefix(r.Type, "kubernetes:")
		props := r.Properties
		apiVersion, _ := props["apiVersion"].(string)
		kind, _ := props["kind"].(string)
		spec, _ := props["spec"].(map[string]any)
		ns := str(props, "metadata", "namespace")
		switch {
		case kind == "Namespace" && apiVersion == "v1":
			in, err := value(ctx, p.inMesh, Input(r))
			if err != nil {
				return nil, err
			}
			name := str(props, "metadata", "name")
			if in == true && !slices.Contains(gateways, name) {
				meshNamespaces = append(meshNamespaces, name)
			}
		case kind == "PeerAuthentication" && strings.HasPrefix(apiVersion, "security.istio.io/"):
			if ns == root && !selects(spec) && str(spec, "mtls", "mode") == "STRICT" && len(asMap(spec["portLevelMtls"])) == 0 {
				meshWide = true
			}
		case kind == "AuthorizationPolicy" && strings.HasPrefix(apiVersion, "security.istio.io/"):
			action := str(spec, "action")
			rules, _ := spec["rules"].([]any)
			if !selects(spec) && (action == "" || action == "ALLOW") && len(rules) == 0 && spec["provider"] == nil {
				defaultDeny[ns] = true
			}
		}
	}

	out := slices.Concat(checkDockerNetworks(stackURN, resources), checkBudgets(stackURN, resources), checkNodeStorage(stackURN, resources))
	// The mesh's checks are for stacks on Kubernetes; the Docker target has its own.
	if !meshWide && kubernetes {
		out = append(out, Violation{Policy: StackMeshWideStrict, URN: stackURN, Level: Mandatory, Message: fmt.Sprintf(
			"no mesh-wide PeerAuthentication: declare one in the root namespace %s with no selector and spec.mtls.mode STRICT", root)})
	}
	slices.Sort(meshNamespaces)
	for _, ns := range meshNamespaces {
		if !defaultDeny[ns] {
			out = append(out, Violation{Policy: StackDefaultDeny, URN: stackURN, Level: Mandatory, Message: fmt.Sprintf(
				"namespace %s is in the mesh but has no default-deny AuthorizationPolicy: declare one with an empty spec (no selector, no rules), so that only the declared flows are allowed", ns)})
		}
	}
	return out, nil
}

// selects reports whether an Istio policy spec narrows itself to some workloads.
func selects(spec map[string]any) bool {
	if len(asMap(spec["selector"])) > 0 {
		return true
	}
	refs, _ := spec["targetRefs"].([]any)
	return len(refs) > 0 || spec["targetRef"] != nil
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// mapAt reads an object at path in nested maps, nil when absent.
func mapAt(m map[string]any, path ...string) map[string]any {
	for _, k := range path {
		m = asMap(m[k])
	}
	return m
}

// str reads a string at path in nested maps, "" when absent.
func str(m map[string]any, path ...string) string {
	s, _ := mapAt(m, path[:len(path)-1]...)[path[len(path)-1]].(string)
	return s
}

// Report is the outcome of checking a stack.
type Report struct {
	Pack       *Pack
	Stack      string
	Resources  int
	Violations []Violation
}

// Check evaluates the pack on every resource and runs the stack-wide checks. cluster
// are what other stacks declare on the same cluster (the platform a shared stack
// joins): the stack-wide checks see them too, as the cluster holds them all, and no
// violation is reported on them.
func (p *Pack) Check(ctx context.Context, stack, stackURN string, resources, cluster []Resource) (*Report, error) {
	rep := &Report{Pack: p, Stack: stack, Resources: len(resources)}
	for _, r := range resources {
		v, err := p.Evaluate(ctx, r)
		if err != nil {
			return nil, err
		}
		rep.Violations = append(rep.Violations, v...)
	}
	v, err := p.CheckStack(ctx, stackURN, slices.Concat(resources, cluster))
	if err != nil {
		return nil, err
	}
	rep.Violations = append(rep.Violations, v...)
	slices.SortStableFunc(rep.Violations, func(a, b Violation) int {
		if a.Level != b.Level {
			if a.Level == Mandatory {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Policy+a.URN+a.Message, b.Policy+b.URN+b.Message)
	})
	return rep, nil
}

// Count returns the number of violations at level.
func (r *Report) Count(level Level) int {
	n := 0
	for _, v := range r.Violations {
		if v.Level == level {
			n++
		}
	}
	return n
}

// Write prints the violations the way `pulumi preview` lists policy violations, then a
// summary line.
func (r *Report) Write(w io.Writer) error {
	var b strings.Builder
	if len(r.Violations) > 0 {
		fmt.Fprintf(&b, "Policy Violations:\n    %s@v%s\n", r.Pack.Name, r.Pack.Version)
		for _, v := range r.Violations {
			fmt.Fprintf(&b, "        - [%s]  %s  (%s)\n          %s\n", v.Level, v.Policy, v.URN, v.Message)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%s: %d resources checked against %s@v%s (%d policies, %d stack-wide checks): %d mandatory, %d advisory violations\n",
		r.Stack, r.Resources, r.Pack.Name, r.Pack.Version, len(r.Pack.Rules), len(StackChecks), r.Count(Mandatory), r.Count(Advisory))
	_, err := io.WriteString(w, b.String())
	return err
}
