package conformance

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chartutil"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
)

// k3sVersionEnv is the colima-vm command's environment variable that carries the pinned
// k3s release, the Kubernetes version Helm reports to the charts.
const k3sVersionEnv = "LAMINA_K3S_VERSION"

// installation is what putting a stack's objects on the API server in install order
// found: the program's objects by server-side apply, as pulumi-kubernetes sends them,
// and each release's objects as Helm's install creates them, at the release's place
// in the order.
type installation struct {
	cfg *rest.Config
	// Program are the program's own Kubernetes objects, Charts each release's render.
	Program []resource
	Charts  []*chartRender
	// Rejections are the failures: a template or schema error, an object the API
	// server refused, a kind nothing the object waits for serves.
	Rejections []string
	// Warnings are what the API server warned about the program's objects (failures)
	// and about the charts' (reported).
	Warnings, ChartWarnings []string
	// StandIns name the values only known after creation, or secret, that were applied
	// with a stand-in.
	StandIns []string
	// Pods are the pod templates of the program and the charts.
	Pods []podTemplate
	// Took is the wall time of the install, without the control plane's start.
	Took time.Duration
}

// chartObjects counts the objects the charts put on the cluster.
func (in *installation) chartObjects() int {
	n := 0
	for _, c := range in.Charts {
		n += len(c.all())
	}
	return n
}

// installed returns stack's installation on its own control plane, installing it the
// first time it is asked for.
func installed(t *testing.T, stack string) *installation {
	t.Helper()
	if platform := platformOf(stack); platform != stack {
		installed(t, platform) // first, as pulumi up -s production is
	}
	cfg := cluster(t, platformOf(stack))
	mirror(t)
	p := planeFor(stack)
	p.installOnce.Do(func() { p.installed = install(t, stack, cfg) })
	if p.installed == nil {
		t.Fatalf("installing %s failed earlier", stack)
	}
	return p.installed
}

// install puts every object of stack on the API server at cfg, in the order the
// program declares them (an order in which everything comes after what it waits for).
func install(t *testing.T, stack string, cfg *rest.Config) *installation {
	ctx := context.Background()
	resources := render(t, stack)
	in := &installation{cfg: cfg}
	begin := time.Now()

	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// What the cluster serves before any release: Kubernetes' own APIs.
	builtins, err := action.GetVersionSet(dc)
	if err != nil {
		t.Fatal(err)
	}
	// The cluster's: a shared stack's is its platform's.
	kube, err := stackKubeVersion(t, platformOf(stack))
	if err != nil {
		t.Fatal(err)
	}

	c := newClient(t, cfg)
	// served says which API versions and kinds each release's CRDs serve.
	served := map[string]chartutil.VersionSet{}
	byURN := map[string]resource{}
	for _, r := range resources {
		byURN[r.URN] = r
	}
	// apis is what the cluster is sure to serve once everything r waits for is there:
	// Kubernetes' own APIs and the CRDs of the releases it waits for, directly or not.
	apis := func(r resource) chartutil.VersionSet {
		set := slices.Clone(builtins)
		for _, dep := range dependencies(byURN, r) {
			set = append(set, served[dep]...)
		}
		return set
	}
	reject := func(format string, args ...any) { in.Rejections = append(in.Rejections, fmt.Sprintf(format, args...)) }

	for _, r := range resources {
		switch {
		case r.Type == "kubernetes:helm.sh/v3:Release":
			rel := releaseOf(r)
			caps := capabilities{KubeVersion: kube, APIVersions: apis(r)}
			cr, err := renderRelease(t, rel, caps)
			if err != nil {
				reject("%v", err)
				continue
			}
			in.Charts = append(in.Charts, cr)
			served[r.URN] = crdVersions(cr.all())
			for _, err := range c.installRelease(ctx, cr, caps) {
				reject("release %s (chart %s): %v", rel.Name, rel.Chart, err)
			}
			for _, w := range c.takeWarnings() {
				in.ChartWarnings = append(in.ChartWarnings, fmt.Sprintf("release %s: %s", rel.Name, w))
			}
			for _, o := range cr.all() {
				if p, ok := podTemplateOf(o.Obj, rel.Namespace); ok {
					p.From = fmt.Sprintf("release %s (chart %s), %s", rel.Name, rel.Chart, o.Source)
					in.Pods = append(in.Pods, p)
				}
			}
		case isKubernetesObject(r):
			in.Program = append(in.Program, r)
			obj := runtime.DeepCopyJSON(r.Inputs)
			for _, path := range standIn("", obj) {
				in.StandIns = append(in.StandIns, r.URN+": "+path)
			}
			if kind := kindOf(obj); !apis(r).Has(kind) {
				reject("%s: %s is served by no release it waits for (add the release that installs its CRD to its dependencies)", r.URN, kind)
				continue
			}
			if err := c.apply(ctx, obj); err != nil {
				reject("%s: %v", r.URN, err)
			}
			for _, w := range c.takeWarnings() {
				in.Warnings = append(in.Warnings, fmt.Sprintf("%s: %s", r.URN, w))
			}
			if p, ok := podTemplateOf(obj, ""); ok {
				p.From = r.URN
				in.Pods = append(in.Pods, p)
			}
		}
	}
	in.Took = time.Since(begin)
	return in
}

// kubeVersion is the Kubernetes version of the k3s release the stack's VM runs.
func kubeVersion(resources []resource) (*chartutil.KubeVersion, error) {
	for _, r := range resources {
		env, _ := r.Inputs["environment"].(map[string]any)
		if v, ok := env[k3sVersionEnv].(string); ok && r.Type == "command:local:Command" {
			return chartutil.ParseKubeVersion(v)
		}
	}
	return nil, fmt.Errorf("no command of the render sets %s: which Kubernetes version do the charts see?", k3sVersionEnv)
}

// stackKubeVersion is the Kubernetes version stack's charts see: its VM's k3s, or for a
// stack on an existing cluster (no VM: its version is the cluster's, unknown offline)
// development's, the version this program pins and these API servers run.
func stackKubeVersion(t testing.TB, stack string) (*chartutil.KubeVersion, error) {
	kube, err := kubeVersion(render(t, stack))
	if err != nil && stack != "development" && !hasVM(render(t, stack)) {
		return kubeVersion(render(t, "development"))
	}
	return kube, err
}

// hasVM says whether the render declares a Colima VM.
func hasVM(resources []resource) bool {
	for _, r := range resources {
		if r.Type == "lamina:colima:ColimaVM" {
			return true
		}
	}
	return false
}

// dependencies are the URNs r waits for, directly or through what it waits for.
func dependencies(byURN map[string]resource, r resource) []string {
	seen := map[string]bool{}
	var walk func(urns []string)
	walk = func(urns []string) {
		for _, u := range urns {
			if !seen[u] {
				seen[u] = true
				walk(byURN[u].Dependencies)
			}
		}
	}
	walk(r.Dependencies)
	return slices.Sorted(func(yield func(string) bool) {
		for u := range seen {
			if !yield(u) {
				return
			}
		}
	})
}

// isKubernetesObject holds for a resource that is one Kubernetes object.
func isKubernetesObject(r resource) bool {
	_, a := r.Inputs["apiVersion"].(string)
	_, k := r.Inputs["kind"].(string)
	_, m := r.Inputs["metadata"].(map[string]any)
	return a && k && m && strings.HasPrefix(r.Type, "kubernetes:")
}

// kindOf is an object's kind as Helm's .Capabilities.APIVersions names it.
func kindOf(obj map[string]any) string {
	return fmt.Sprintf("%s/%s", obj["apiVersion"], obj["kind"])
}

// dryRunKinds are created only as a server-side dry run: webhooks whose servers do not
// run here would make the API server refuse every later object they match.
var dryRunKinds = map[string]bool{
	"admissionregistration.k8s.io/v1/MutatingWebhookConfiguration":   true,
	"admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration": true,
	"apiregistration.k8s.io/v1/APIService":                           true,
}

// installRelease creates a release's objects as Helm's install does: the CRDs of its
// crds/ folders first, until they are established; then every other kind must be one
// the cluster serves (Helm maps the whole manifest before it creates anything); then
// the pre-install hooks, the templates and the post-install hooks, each created with
// strict field validation, in the release's namespace unless it names another.
func (c *client) installRelease(ctx context.Context, cr *chartRender, caps capabilities) []error {
	var errs []error
	for _, o := range cr.CRDs {
		if err := c.create(ctx, o, cr.Release); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o, err))
		}
	}
	if err := c.establish(ctx, cr.CRDs); err != nil {
		return append(errs, err)
	}
	known := slices.Concat(caps.APIVersions, crdVersions(cr.CRDs))
	rest := slices.Concat(cr.Pre, cr.Objects, cr.Post)
	for _, o := range rest {
		if !known.Has(kindOf(o.Obj)) {
			errs = append(errs, fmt.Errorf("%s: no kind %s is served when the release installs (is its CRD in a release it waits for?)", o, kindOf(o.Obj)))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	for _, o := range rest {
		if err := c.create(ctx, o, cr.Release); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o, err))
		}
	}
	// CRDs among the templates serve the releases and objects that wait for this one.
	if err := c.establish(ctx, rest); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// create sends one chart object as Helm does, with Helm's ownership labels.
func (c *client) create(ctx context.Context, o object, r helmRelease) error {
	obj := runtime.DeepCopyJSON(o.Obj)
	u := &unstructured.Unstructured{Object: obj}
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["app.kubernetes.io/managed-by"] = "Helm"
	u.SetLabels(labels)
	annotations := u.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations["meta.helm.sh/release-name"] = r.Name
	annotations["meta.helm.sh/release-namespace"] = r.Namespace
	u.SetAnnotations(annotations)
	ri, err := c.resourceIn(u, r.Namespace)
	if err != nil {
		return err
	}
	opts := metav1.CreateOptions{FieldManager: "helm", FieldValidation: "Strict"}
	if dryRunKinds[kindOf(obj)] {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	_, err = ri.Create(ctx, u, opts)
	return err
}

// establish waits until every CRD among objs is established and the client's mapping
// knows their kinds.
func (c *client) establish(ctx context.Context, objs []object) error {
	var crds []object
	for _, o := range objs {
		if o.Obj["kind"] == "CustomResourceDefinition" {
			crds = append(crds, o)
		}
	}
	if len(crds) == 0 {
		return nil
	}
	for _, o := range crds {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			got, err := c.get(ctx, o.Obj)
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			conditions, _ := nested(got, "status", "conditions").([]any)
			for _, cond := range conditions {
				cm, _ := cond.(map[string]any)
				if cm["type"] == "Established" && cm["status"] == "True" {
					return true, nil
				}
			}
			return false, nil
		})
		if err != nil {
			return fmt.Errorf("%s was not established: %w", o, err)
		}
	}
	return c.refresh()
}
