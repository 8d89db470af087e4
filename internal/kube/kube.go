// Package kube holds what the components share to declare Kubernetes objects and Helm
// releases: typed values turned into Pulumi inputs, one way to install a pinned chart,
// and custom resources from typed specs.
package kube

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/lamina-os/lamina-infra/internal/spec"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apiextensions"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// PartOf is the value of app.kubernetes.io/part-of on everything the platform declares.
const PartOf = "lamina"

// Labels returns the platform's standard labels plus extra.
func Labels(extra map[string]string) pulumi.StringMap {
	m := pulumi.StringMap{
		"app.kubernetes.io/managed-by": pulumi.String("pulumi"),
		"app.kubernetes.io/part-of":    pulumi.String(PartOf),
	}
	for k, v := range extra {
		m[k] = pulumi.String(v)
	}
	return m
}

// Meta is the metadata of a namespaced object with the standard labels.
func Meta(name string, namespace pulumi.StringInput, labels map[string]string) *metav1.ObjectMetaArgs {
	return &metav1.ObjectMetaArgs{Name: pulumi.String(name), Namespace: namespace, Labels: Labels(labels)}
}

// Input turns a typed value (structs with json tags, maps, slices, scalars) into the
// Pulumi input Kubernetes and Helm take, so that values are written as Go types with
// doc comments rather than as map literals.
func Input(v any) pulumi.Input {
	return toInput(jsonValue(v))
}

// jsonValue is a typed value as JSON sees it: objects, lists and scalars.
func jsonValue(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("kube: %v", err)) // a programming error: the types are ours
	}
	var raw any
	if err := json.Unmarshal(b, &raw); err != nil {
		panic(fmt.Sprintf("kube: %v", err))
	}
	return raw
}

// Values is Input for an object.
func Values(v any) pulumi.Map {
	m, ok := Input(v).(pulumi.Map)
	if !ok {
		panic(fmt.Sprintf("kube.Values: %T is not an object", v))
	}
	return m
}

func toInput(raw any) pulumi.Input {
	switch x := raw.(type) {
	case map[string]any:
		m := pulumi.Map{}
		for k, v := range x {
			m[k] = toInput(v)
		}
		return m
	case []any:
		a := pulumi.Array{}
		for _, v := range x {
			a = append(a, toInput(v))
		}
		return a
	case string:
		return pulumi.String(x)
	case float64:
		if x == float64(int(x)) {
			return pulumi.Int(int(x))
		}
		return pulumi.Float64(x)
	case bool:
		return pulumi.Bool(x)
	case nil:
		return nil
	}
	panic(fmt.Sprintf("kube.Input: unexpected %T", raw))
}

// Chart is a pinned upstream chart and the extra values the stack gives its release.
type Chart struct {
	// Repository is the chart repository's URL, Name the chart's name in it, Version
	// exact.
	Repository, Name, Version string
	// Timeout bounds the install or upgrade.
	Timeout time.Duration
	// Values are merged over the program's typed values: objects key by key, anything
	// else replaces. The configuration refuses keys the program owns before anything is
	// declared; ValuesKey is where they are configured, for messages.
	Values    map[string]any
	ValuesKey string
}

// Release installs a chart as a Helm release named exactly name in namespace, waiting
// until every resource of the release is ready, within the chart's timeout, and rolling
// back (or removing a first install) when it is not: a failed install fails `pulumi up`
// with the release's name instead of hanging or leaving half a release.
func Release(ctx *pulumi.Context, name string, chart Chart, namespace pulumi.StringInput, values any, opts ...pulumi.ResourceOption) (*HelmRelease, error) {
	if len(chart.Values) > 0 {
		merged, err := Merge(plain(values), chart.Values, chart.ValuesKey)
		if err != nil {
			return nil, fmt.Errorf("release %s: %w", name, err)
		}
		values = merged
	}
	return NewHelmRelease(ctx, name, &HelmReleaseArgs{
		Name:           pulumi.String(name),
		Chart:          pulumi.String(chart.Name),
		Version:        pulumi.String(chart.Version),
		RepositoryOpts: pulumi.StringMap{"repo": pulumi.String(chart.Repository)},
		Namespace:      namespace,
		// Namespaces are declared once, by the namespaces component.
		CreateNamespace: pulumi.Bool(false),
		Values:          Values(values),
		Timeout:         pulumi.Int(int(chart.Timeout / time.Second)),
		Atomic:          pulumi.Bool(true),
		CleanupOnFail:   pulumi.Bool(true),
		WaitForJobs:     pulumi.Bool(true),
		MaxHistory:      pulumi.Int(10),
	}, opts...)
}

// Merge returns base with over laid on it: objects merge key by key, anything else in
// over replaces what base has. An object of base is never replaced by something else
// (null included): that would drop every key the program sets inside it, owned ones
// too, so it is an error naming key (where over is configured) and the path. Neither
// map is changed.
func Merge(base, over map[string]any, key string) (map[string]any, error) {
	out := make(map[string]any, len(base)+len(over))
	for k, v := range base {
		out[k] = v
	}
	for _, k := range slices.Sorted(maps.Keys(over)) {
		v := over[k]
		b, bok := out[k].(map[string]any)
		o, ook := v.(map[string]any)
		switch {
		case bok && ook:
			m, err := Merge(b, o, key+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = m
		case bok:
			return nil, fmt.Errorf("%s.%s: replaces an object the program sets with %s; set the keys inside it instead", key, k, describe(v))
		default:
			out[k] = v
		}
	}
	return out, nil
}

func describe(v any) string {
	if v == nil {
		return "null"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// plain is a typed value as the JSON object Helm receives.
func plain(v any) map[string]any {
	m, ok := jsonValue(v).(map[string]any)
	if !ok {
		panic(fmt.Sprintf("kube: %T is not an object", v)) // a programming error: the types are ours
	}
	return m
}

// CustomResource declares an object of a kind that a CRD defines, with a typed spec.
// Namespaced kinds must name their namespace: before the CRD exists, the provider
// cannot tell whether a kind is namespaced.
func CustomResource(ctx *pulumi.Context, name, apiVersion, kind string, meta *metav1.ObjectMetaArgs, spec any, opts ...pulumi.ResourceOption) (*apiextensions.CustomResource, error) {
	return apiextensions.NewCustomResource(ctx, name, &apiextensions.CustomResourceArgs{
		ApiVersion:  pulumi.String(apiVersion),
		Kind:        pulumi.String(kind),
		Metadata:    meta,
		OtherFields: kubernetes.UntypedArgs{"spec": Input(spec)},
	}, opts...)
}

// Resources are a container's requests and limits, as chart values and pod specs write
// them; the configuration's own type (spec), so the program passes it on unchanged.
type (
	Resources  = spec.Resources
	Quantities = spec.Quantities
)

// ServiceHost is the cluster DNS name of Service service in namespace.
func ServiceHost(service, namespace string) string {
	return service + "." + namespace + ".svc.cluster.local"
}

// ServiceURL is the plain-HTTP address of a Service's port inside the cluster (the
// sidecars carry it over mutual TLS).
func ServiceURL(service, namespace string, port int) string {
	return fmt.Sprintf("http://%s:%d", ServiceHost(service, namespace), port)
}

// PodSecurityContext is a pod's securityContext as chart values write it.
type PodSecurityContext struct {
	RunAsNonRoot   bool `json:"runAsNonRoot"`
	RunAsUser      int  `json:"runAsUser"`
	RunAsGroup     int  `json:"runAsGroup"`
	SeccompProfile struct {
		Type string `json:"type"`
	} `json:"seccompProfile"`
}

// ContainerSecurityContext is a container's securityContext as chart values write it.
type ContainerSecurityContext struct {
	AllowPrivilegeEscalation bool `json:"allowPrivilegeEscalation"`
	Capabilities             struct {
		Drop []string `json:"drop"`
	} `json:"capabilities"`
}

// Restricted are the security contexts of a chart's pod that runs as uid and gid and
// passes Pod Security's restricted level: never root, no privilege escalation, every
// capability dropped, the runtime's seccomp profile.
func Restricted(uid, gid int) (PodSecurityContext, ContainerSecurityContext) {
	pod := PodSecurityContext{RunAsNonRoot: true, RunAsUser: uid, RunAsGroup: gid}
	pod.SeccompProfile.Type = "RuntimeDefault"
	var container ContainerSecurityContext
	container.Capabilities.Drop = []string{"ALL"}
	return pod, container
}
