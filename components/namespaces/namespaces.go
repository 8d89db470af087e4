// Package namespaces provides Namespaces, the one place where the platform's namespaces
// are declared, with their mesh membership and Pod Security labels.
package namespaces

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/internal/kube"
)

// Labels and annotations the namespaces carry.
const (
	// InjectionLabel turns Istio's sidecar injection on (enabled) or off (disabled).
	InjectionLabel = "istio-injection"
	// OutOfMeshReasonAnnotation says why a namespace stays out of the mesh.
	OutOfMeshReasonAnnotation = "lamina.io/out-of-mesh-reason"
)

// Namespace is one namespace to declare.
type Namespace struct {
	// Name is the namespace's name.
	Name string
	// OutOfMeshReason, when set, keeps the namespace out of the mesh and says why.
	OutOfMeshReason string
	// PodSecurity is the Pod Security Standard level it enforces.
	PodSecurity string
	// Keep leaves the namespace in the cluster on `pulumi destroy`: it holds claims of a
	// provisioner's volumes, which deleting the namespace would delete with their data.
	Keep bool
}

// NamespacesArgs lists the namespaces.
type NamespacesArgs struct {
	Namespaces []Namespace
}

// Namespaces declares every namespace of the platform, each once.
type Namespaces struct {
	pulumi.ResourceState

	// Names maps each namespace to its name as an output: a resource that lives in the
	// namespace takes its namespace from here and so waits for it.
	Names map[string]pulumi.StringOutput
	// Objects are the Namespace resources by name.
	Objects map[string]*corev1.Namespace
}

// NewNamespaces declares the namespaces with the cluster's provider.
func NewNamespaces(ctx *pulumi.Context, name string, args NamespacesArgs, opts ...pulumi.ResourceOption) (*Namespaces, error) {
	c := &Namespaces{Names: map[string]pulumi.StringOutput{}, Objects: map[string]*corev1.Namespace{}}
	if err := ctx.RegisterComponentResource("lamina:namespaces:Namespaces", name, c, opts...); err != nil {
		return nil, err
	}
	outputs := pulumi.Map{}
	for _, ns := range args.Namespaces {
		labels := map[string]string{
			InjectionLabel: "enabled",
			// Enforce the namespace's level; warn and audit against restricted, so that
			// what keeps a namespace below it stays visible.
			"pod-security.kubernetes.io/enforce":         ns.PodSecurity,
			"pod-security.kubernetes.io/enforce-version": "latest",
			"pod-security.kubernetes.io/warn":            "restricted",
			"pod-security.kubernetes.io/audit":           "restricted",
		}
		annotations := pulumi.StringMap{}
		if ns.OutOfMeshReason != "" {
			labels[InjectionLabel] = "disabled"
			annotations[OutOfMeshReasonAnnotation] = pulumi.String(ns.OutOfMeshReason)
		}
		obj, err := corev1.NewNamespace(ctx, name+"-"+ns.Name, &corev1.NamespaceArgs{
			Metadata: &metav1.ObjectMetaArgs{
				Name:        pulumi.String(ns.Name),
				Labels:      kube.Labels(labels),
				Annotations: annotations,
			},
		}, pulumi.Parent(c), pulumi.RetainOnDelete(ns.Keep))
		if err != nil {
			return nil, err
		}
		c.Objects[ns.Name] = obj
		c.Names[ns.Name] = obj.Metadata.Name().Elem()
		outputs[ns.Name] = c.Names[ns.Name]
	}
	if err := ctx.RegisterResourceOutputs(c, outputs); err != nil {
		return nil, err
	}
	return c, nil
}
