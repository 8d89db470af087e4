// Package images provides Image: a Lamina image either built from a source checkout on
// the cluster's own Docker daemon or taken prebuilt, and the reference pods run it by.
//
// A built image is named by its content: after the build, the image is tagged with its
// image ID (repository:<64 hex digits>), and that tag is the reference. An unchanged
// build has the same ID, so the Deployment's input does not change and nothing rolls;
// a changed one has a new ID, so `pulumi up` rolls it out. Colima's docker runtime
// shares the daemon with k3s, so the pods run the image without a registry.
package images

import (
	"strings"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/workload"
)

// ImageArgs say where an image comes from.
type ImageArgs struct {
	// Repository names a built image (lamina/lamina-core).
	Repository string
	// Build builds from Context and Dockerfile (absolute paths); otherwise Reference is
	// used as it is.
	Build               bool
	Context, Dockerfile string
	// Reference is the prebuilt image.
	Reference string
	// Promoted, when set, is the content-addressed reference of an image another stack
	// runs on the same nodes (staging's, promoted): used as it is, never built and never
	// pulled.
	Promoted pulumi.StringInput
	// Daemon stands for the Docker daemon a build lands on. When it changes (a VM made
	// anew has an empty daemon, whatever the state says was built), the image is built
	// and tagged again; pulumi-docker does not look for its images on the daemon.
	Daemon string
}

// Image is an image ready for pods.
type Image struct {
	pulumi.ResourceState

	// Ref is what pods run: repository:<image ID> when built, the reference otherwise.
	Ref pulumi.StringOutput
	// PullPolicy is Never for a built image (it is on the node's daemon) and
	// IfNotPresent for a prebuilt one.
	PullPolicy string
}

// BuildTag is the tag every build gets before it is tagged by its content.
const BuildTag = "build"

// ContentRef is the reference of the image with ID id ("sha256:<hex>") in repository.
func ContentRef(repository, id string) string {
	return repository + ":" + strings.TrimPrefix(id, "sha256:")
}

// NewImage builds or takes the image. Building needs a Docker provider among opts.
func NewImage(ctx *pulumi.Context, name string, args ImageArgs, opts ...pulumi.ResourceOption) (*Image, error) {
	im := &Image{}
	if err := ctx.RegisterComponentResource("lamina:images:Image", name, im, opts...); err != nil {
		return nil, err
	}
	switch {
	case args.Promoted != nil:
		im.Ref = args.Promoted.ToStringOutput()
		im.PullPolicy = workload.PullNever
	case !args.Build:
		im.Ref = pulumi.String(args.Reference).ToStringOutput()
		im.PullPolicy = workload.PullIfNotPresent
	default:
		again := pulumi.ReplacementTrigger(pulumi.String(args.Daemon))
		built, err := docker.NewImage(ctx, name+"-build", &docker.ImageArgs{
			ImageName: pulumi.String(args.Repository + ":" + BuildTag),
			SkipPush:  pulumi.Bool(true),
			Build: &docker.DockerBuildArgs{
				Context:        pulumi.String(args.Context),
				Dockerfile:     pulumi.String(args.Dockerfile),
				BuilderVersion: docker.BuilderVersionBuilderBuildKit,
			},
		}, pulumi.Parent(im), again)
		if err != nil {
			return nil, err
		}
		// For a local image, repoDigest is the image ID.
		target := built.RepoDigest.ApplyT(func(id string) string { return ContentRef(args.Repository, id) }).(pulumi.StringOutput)
		tag, err := docker.NewTag(ctx, name+"-tag", &docker.TagArgs{
			SourceImage: built.RepoDigest,
			TargetImage: target,
		}, pulumi.Parent(im), again)
		if err != nil {
			return nil, err
		}
		im.Ref = tag.TargetImage
		im.PullPolicy = workload.PullNever
	}
	if err := ctx.RegisterResourceOutputs(im, pulumi.Map{"ref": im.Ref}); err != nil {
		return nil, err
	}
	return im, nil
}
