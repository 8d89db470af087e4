package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/buildtier"
	"github.com/lamina-os/lamina-infra/components/cluster"
	"github.com/lamina-os/lamina-infra/components/images"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// BuildPlatform is the build tier: the build environment's image, and the checks of a
// commit in lamina-build.
type BuildPlatform struct {
	Image *images.Image
	Tier  *buildtier.BuildTier
}

// buildEnvironment is the build environment's workload name (its image lamina/lamina-build).
const buildEnvironment = "lamina-build"

// buildBuildTier declares the build tier after istiod, whose webhook injects the check's
// sidecar.
func buildBuildTier(ctx *pulumi.Context, cfg *config.Config, cl *cluster.Cluster, mesh *MeshPlatform, daemon string) (*BuildPlatform, error) {
	b := cfg.Build
	p := &BuildPlatform{}
	var err error
	if p.Image, err = newImage(ctx, cfg, buildEnvironment, b.Image, nil, daemon, onDaemon(cl)...); err != nil {
		return nil, err
	}
	p.Tier, err = buildtier.NewBuildTier(ctx, "build-tier", buildtier.BuildTierArgs{
		Namespace:    mesh.Namespaces.Names[config.NamespaceBuild],
		Image:        p.Image.Ref,
		PullPolicy:   p.Image.PullPolicy,
		Checkout:     config.ExpandHome(cfg.Images.Checkout),
		Commit:       b.Commit,
		DataDir:      cfg.Data.Dir,
		BuildDir:     config.BuildDir,
		Command:      b.Command,
		Resources:    b.Resources,
		RunAsUser:    b.Security.RunAsUser,
		RunAsGroup:   b.Security.RunAsGroup,
		Timeout:      b.Timeout.Duration,
		VolumeName:   cfg.ClusterName(config.BuildDir),
		StorageClass: cl.StorageClass,
		Node:         cl.Nodes.Index(pulumi.Int(0)),
		DependsOn:    mesh.sidecars(),
	}, pulumi.Providers(cl.Provider))
	return p, err
}
