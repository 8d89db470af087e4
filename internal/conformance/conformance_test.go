package conformance

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// client talks to the test API server and records every warning it sends back.
type client struct {
	dyn       dynamic.Interface
	discovery discovery.DiscoveryInterface
	mapper    meta.RESTMapper

	mu       sync.Mutex
	warnings []string
}

func (c *client) HandleWarningHeader(code int, agent, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.warnings = append(c.warnings, text)
}

func (c *client) takeWarnings() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.warnings
	c.warnings = nil
	return w
}

func newClient(t *testing.T, cfg *rest.Config) *client {
	t.Helper()
	cfg = rest.CopyConfig(cfg)
	c := &client{}
	cfg.WarningHandler = c
	var err error
	if c.discovery, err = discovery.NewDiscoveryClientForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if err := c.refresh(); err != nil {
		t.Fatal(err)
	}
	if c.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return c
}

// refresh reads anew which kinds the API server serves, after CRDs were added.
func (c *client) refresh() error {
	groups, err := restmapper.GetAPIGroupResources(c.discovery)
	if err != nil {
		return err
	}
	c.mapper = restmapper.NewDiscoveryRESTMapper(groups)
	return nil
}

func (c *client) resource(obj *unstructured.Unstructured) (dynamic.ResourceInterface, error) {
	return c.resourceIn(obj, "")
}

// resourceIn is where obj is served; a namespaced object that names no namespace goes
// to namespace, when one is given.
func (c *client) resourceIn(obj *unstructured.Unstructured, namespace string) (dynamic.ResourceInterface, error) {
	gvk := obj.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return nil, fmt.Errorf("%s is not served (is its CRD installed?): %w", gvk, err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(namespace)
		}
		if obj.GetNamespace() == "" {
			return nil, fmt.Errorf("%s %s is namespaced but names no namespace", gvk.Kind, obj.GetName())
		}
		return c.dyn.Resource(m.Resource).Namespace(obj.GetNamespace()), nil
	}
	return c.dyn.Resource(m.Resource), nil
}

// apply sends obj as pulumi-kubernetes does with server-side apply, with strict field
// validation: an unknown or duplicate field is an error, not a warning.
func (c *client) apply(ctx context.Context, obj map[string]any) error {
	u := &unstructured.Unstructured{Object: obj}
	ri, err := c.resource(u)
	if err != nil {
		return err
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	force := true
	_, err = ri.Patch(ctx, u.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
		FieldManager: "pulumi-kubernetes", Force: &force, FieldValidation: "Strict",
	})
	return err
}

func (c *client) get(ctx context.Context, obj map[string]any) (map[string]any, error) {
	u := &unstructured.Unstructured{Object: obj}
	ri, err := c.resource(u)
	if err != nil {
		return nil, err
	}
	got, err := ri.Get(ctx, u.GetName(), metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return got.Object, nil
}

// Every stack, installed as `pulumi up` installs it: every object of the program and
// every object its releases' charts render, in install order, is accepted by a real
// API server with strict field validation, the program's with no warning; read back,
// every field the program set is there with its value (nothing pruned). Staging goes
// onto production's API server after production, as on the Mac: none of its objects
// may collide with production's.
func TestEveryStackInstallsOnARealAPIServer(t *testing.T) {
	ctx := context.Background()
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			in := installed(t, stack)
			for _, r := range in.Rejections {
				t.Error(r)
			}
			for _, w := range in.Warnings {
				t.Errorf("warning for %s", w)
			}
			for _, w := range in.ChartWarnings {
				t.Logf("warning for a chart's object: %s", w)
			}
			for _, s := range in.StandIns {
				t.Logf("%s is only known after creation or secret; applied with a stand-in", s)
			}
			// Staging: the agent stack and its policies, no release.
			minObjects, minReleases := 90, 12
			if stack == "staging" {
				minObjects, minReleases = 60, 0
			}
			if n := len(releases(render(t, stack))); len(in.Program) < minObjects || n < minReleases {
				t.Fatalf("only %d objects and %d releases in the render of %s", len(in.Program), n, stack)
			}
			c := newClient(t, in.cfg)
			kinds := map[string]int{}
			for _, r := range in.Program {
				kinds[r.Inputs["kind"].(string)]++
				want := runtime.DeepCopyJSON(r.Inputs)
				standIn("", want)
				stringDataAsData(want)
				got, err := c.get(ctx, want)
				if err != nil {
					t.Errorf("reading back %s: %v", r.URN, err)
					continue
				}
				for _, d := range diff("", want, got) {
					t.Errorf("%s: %s", r.URN, d)
				}
			}
			chartKinds := map[string]int{}
			for _, cr := range in.Charts {
				for _, o := range cr.all() {
					chartKinds[o.Obj["kind"].(string)]++
				}
			}
			t.Logf("%s: %d objects of the program (%s) and %d objects of %d releases (%s) installed in %s; %d warnings for the charts' objects",
				stack, len(in.Program), summary(kinds), in.chartObjects(), len(in.Charts), summary(chartKinds),
				in.Took.Round(time.Millisecond), len(in.ChartWarnings))
		})
	}
}

// The harness bites: objects with the original's mistakes, and a value outside an
// enum, are refused with the API server's own words (server-side apply names an unknown
// field "field not declared in schema").
func TestInvalidObjectsAreRejected(t *testing.T) {
	c := newClient(t, installed(t, "development").cfg)
	ctx := context.Background()
	ns := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "conformance-invalid"}}
	if err := c.apply(ctx, ns); err != nil {
		t.Fatal(err)
	}
	meta := func(name string) map[string]any {
		return map[string]any{"name": name, "namespace": "conformance-invalid"}
	}
	for name, tc := range map[string]struct {
		obj  map[string]any
		want string
	}{
		// Defect 1 of the original: source belongs under from, not under to.
		"AuthorizationPolicy with source under to": {map[string]any{
			"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": meta("source-under-to"),
			"spec": map[string]any{"rules": []any{map[string]any{"to": []any{map[string]any{
				"source": map[string]any{"principals": []any{"cluster.local/ns/istio-gateway/sa/istio-ingressgateway"}}}}}}},
		}, `.spec.rules[0].to[0].source: field not declared in schema`},
		// Defect 13 of the original: fsGroup belongs to the pod's securityContext.
		"Deployment with fsGroup on a container": {map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta("fsgroup-on-container"),
			"spec": map[string]any{
				"selector": map[string]any{"matchLabels": map[string]any{"app": "x"}},
				"template": map[string]any{
					"metadata": map[string]any{"labels": map[string]any{"app": "x"}},
					"spec": map[string]any{"containers": []any{map[string]any{
						"name": "x", "image": "x:1", "securityContext": map[string]any{"fsGroup": 1000}}}},
				},
			},
		}, `.spec.template.spec.containers[name="x"].securityContext.fsGroup: field not declared in schema`},
		"PeerAuthentication with a mode outside the enum": {map[string]any{
			"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": meta("strictest"),
			"spec": map[string]any{"mtls": map[string]any{"mode": "STRICTEST"}},
		}, `spec.mtls.mode: Unsupported value: "STRICTEST"`},
		"IPAddressPool with a field of another kind": {map[string]any{
			"apiVersion": "metallb.io/v1beta1", "kind": "IPAddressPool", "metadata": meta("pool"),
			"spec": map[string]any{"addresses": []any{"192.168.64.200-192.168.64.209"}, "ipAddressPools": []any{"lamina"}},
		}, `.spec.ipAddressPools: field not declared in schema`},
	} {
		t.Run(name, func(t *testing.T) {
			err := c.apply(ctx, tc.obj)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant one containing %s", err, tc.want)
			}
		})
	}
}

// nodeStandIn names the node in a preview, where the cluster's node names are only
// known once the VM is up.
const nodeStandIn = "lamina-node"

// unknownMask is how the render shows a value only known after creation.
const unknownMask = "[unknown]"

// secretMask is how the render shows a secret; a Secret's data is secret as a whole.
const secretMask = "[secret]"

// standIn replaces the values of obj that a preview cannot show and whose place is known
// (a volume's node, a Secret's data) with valid stand-ins, and returns their paths. Any
// other masked value stays and the API server judges it.
func standIn(path string, v any) []string {
	var out []string
	visit := func(p string, child any, set func(any)) {
		if r, ok := standInFor(p, child, v); ok {
			set(r)
			out = append(out, p)
			return
		}
		out = append(out, standIn(p, child)...)
	}
	switch x := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			visit(path+"."+k, x[k], func(r any) { x[k] = r })
		}
	case []any:
		for i := range x {
			visit(fmt.Sprintf("%s[%d]", path, i), x[i], func(r any) { x[i] = r })
		}
	}
	return out
}

// standInFor is what stands in for value at path (in parent), if anything does.
func standInFor(path string, value, parent any) (any, bool) {
	switch {
	case value == unknownMask && nodeValue(path):
		return nodeStandIn, true
	case value == secretMask && (path == ".data" || path == ".stringData"):
		if m, ok := parent.(map[string]any); ok && m["kind"] == "Secret" {
			return map[string]any{"stand-in": "c2VjcmV0"}, true
		}
	}
	return nil, false
}

// stringDataAsData turns a Secret's stringData, which the API server stores as data,
// into the data it reads back as.
func stringDataAsData(obj map[string]any) {
	sd, ok := obj["stringData"].(map[string]any)
	if !ok || obj["kind"] != "Secret" {
		return
	}
	data, _ := obj["data"].(map[string]any)
	if data == nil {
		data = map[string]any{}
	}
	for k, v := range sd {
		data[k] = base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(v)))
	}
	obj["data"] = data
	delete(obj, "stringData")
}

// nodeValue holds for the values of a volume's node affinity.
func nodeValue(path string) bool {
	return strings.HasPrefix(path, ".spec.nodeAffinity.required.nodeSelectorTerms[") && strings.Contains(path, "].values[")
}

// diff lists where got lacks or differs from what want sets. Fields the server adds
// (defaults, status, managedFields) are not differences; an empty map or list the
// server leaves out is none either.
func diff(path string, want, got any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			if got == nil && len(w) == 0 {
				return nil
			}
			return []string{fmt.Sprintf("%s: set to %s, read back %s", orRoot(path), show(want), show(got))}
		}
		var out []string
		for _, k := range slices.Sorted(maps.Keys(w)) {
			if _, present := g[k]; !present && !empty(w[k]) {
				out = append(out, fmt.Sprintf("%s.%s: set to %s, missing when read back (pruned)", path, k, show(w[k])))
				continue
			}
			out = append(out, diff(path+"."+k, w[k], g[k])...)
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			if got == nil && len(w) == 0 {
				return nil
			}
			return []string{fmt.Sprintf("%s: set to %s, read back %s", path, show(want), show(got))}
		}
		var out []string
		for i := range w {
			out = append(out, diff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])...)
		}
		return out
	default:
		if !reflect.DeepEqual(number(want), number(got)) {
			return []string{fmt.Sprintf("%s: set to %s, read back %s", path, show(want), show(got))}
		}
		return nil
	}
}

func orRoot(path string) string {
	if path == "" {
		return "."
	}
	return path
}

func empty(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// number makes JSON's float64 and the client's int64 comparable.
func number(v any) any {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case int:
		return float64(x)
	}
	return v
}

func show(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func summary(kinds map[string]int) string {
	var parts []string
	for k, n := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
