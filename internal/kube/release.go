package kube

import (
	"errors"
	"reflect"
	"strconv"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/utilities"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// HelmRelease is the Kubernetes provider's helm.sh/v3 Release, registered exactly as its
// SDK registers it (pulumi-kubernetes sdk/v4 go/kubernetes/helm/v3/release.go, NewRelease:
// the type token, compat "true", the package's default options), with the inputs the
// program sets. The SDK's helm/v3 package is not imported: it imports the SDK's yaml
// package and, through it, every one of the SDK's API groups, about 55 of which the
// program never uses (measured: 513 s of the 777 s of a cold `go vet ./...` on 2 cores
// went to compiling the SDK, and every binary linking them was larger and slower to
// link).
type HelmRelease struct {
	pulumi.CustomResourceState

	// Status is the release as the provider reports it (the SDK's ReleaseStatus: name,
	// namespace, revision, status, chart, version, appVersion).
	Status pulumi.MapOutput `pulumi:"status"`
}

// Revision is the release's revision, as text: Helm counts it up on every install or
// upgrade. It is unknown until the provider reports the release.
func (r *HelmRelease) Revision() pulumi.StringOutput {
	return r.Status.ApplyT(func(status map[string]any) string {
		if n, ok := status["revision"].(float64); ok {
			return strconv.Itoa(int(n))
		}
		return ""
	}).(pulumi.StringOutput)
}

// HelmReleaseArgs are the inputs of a release the program sets, with the SDK's property
// names (releaseArgs in release.go); anything unset is left out, as the SDK leaves it.
type HelmReleaseArgs struct {
	Name    pulumi.StringPtrInput
	Chart   pulumi.StringInput
	Version pulumi.StringPtrInput
	// RepositoryOpts is the SDK's RepositoryOpts object: the program sets "repo", the
	// chart repository's URL.
	RepositoryOpts  pulumi.StringMapInput
	Namespace       pulumi.StringPtrInput
	CreateNamespace pulumi.BoolPtrInput
	Values          pulumi.MapInput
	Timeout         pulumi.IntPtrInput
	Atomic          pulumi.BoolPtrInput
	CleanupOnFail   pulumi.BoolPtrInput
	WaitForJobs     pulumi.BoolPtrInput
	MaxHistory      pulumi.IntPtrInput
	// Compat is set by NewHelmRelease, as the SDK's NewRelease sets it.
	Compat pulumi.StringPtrInput
}

type helmReleaseArgs struct {
	Name            *string                `pulumi:"name"`
	Chart           string                 `pulumi:"chart"`
	Version         *string                `pulumi:"version"`
	RepositoryOpts  map[string]string      `pulumi:"repositoryOpts"`
	Namespace       *string                `pulumi:"namespace"`
	CreateNamespace *bool                  `pulumi:"createNamespace"`
	Values          map[string]interface{} `pulumi:"values"`
	Timeout         *int                   `pulumi:"timeout"`
	Atomic          *bool                  `pulumi:"atomic"`
	CleanupOnFail   *bool                  `pulumi:"cleanupOnFail"`
	WaitForJobs     *bool                  `pulumi:"waitForJobs"`
	MaxHistory      *int                   `pulumi:"maxHistory"`
	Compat          *string                `pulumi:"compat"`
}

// ElementType is the plain form the SDK marshals the inputs from.
func (HelmReleaseArgs) ElementType() reflect.Type {
	return reflect.TypeOf((*helmReleaseArgs)(nil)).Elem()
}

// NewHelmRelease registers a helm.sh/v3 Release as the SDK's NewRelease does.
func NewHelmRelease(ctx *pulumi.Context, name string, args *HelmReleaseArgs, opts ...pulumi.ResourceOption) (*HelmRelease, error) {
	if args == nil || args.Chart == nil {
		return nil, errors.New("invalid value for required argument 'Chart'")
	}
	args.Compat = pulumi.StringPtr("true")
	var r HelmRelease
	if err := ctx.RegisterResource("kubernetes:helm.sh/v3:Release", name, args, &r, utilities.PkgResourceDefaultOpts(opts)...); err != nil {
		return nil, err
	}
	return &r, nil
}
