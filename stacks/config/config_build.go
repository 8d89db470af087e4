package config

// Build is the build tier (ADR-0011's lamina-build): the Lamina checkout's build
// environment as an image on the cluster's Docker daemon, and the lamina-build namespace,
// where the checks of one commit of the checkout run as a Kubernetes Job in that image.
// The Job's pods meet Pod Security restricted, sit in the mesh under STRICT mutual TLS
// and reach nothing but the mesh's own endpoints (istiod, DNS, the span collector): no
// registry and no internet, so dependencies come from the image or the build cache.
type Build struct {
	// Enabled declares the namespace and builds (or takes) the image. Allowed: true only
	// with lamina:cluster.target colima, whose VM mounts the data directory the commit's
	// tree is exported into on this Mac.
	Enabled bool `json:"enabled"`
	// Image is the build environment: built from the checkout (lamina:images.checkout)
	// as the Lamina images are, by default from build-env/Dockerfile with build-env as
	// its context, or taken prebuilt (build false, reference).
	Image Image `json:"image"`
	// Commit is the commit of the checkout whose checks run: `pulumi up` exports its tree
	// into data.dir/build/sources/<commit> and waits for the Job check-<first 12 digits>
	// to succeed, and a failing check fails the up. Another commit replaces the Job.
	// Empty: no check runs. Allowed: empty or a full commit ID (40 or 64 lower-case hex
	// digits): a branch or a tag moves, and the check would not say what it checked.
	Commit string `json:"commit"`
	// Command is what runs at the root of a copy of the commit's tree. Allowed: one or
	// more arguments, the first a command name or absolute path.
	Command []string `json:"command"`
	// Resources are the check's requests and limits. Requests are what the VM's
	// capacity counts; the limits let a check use the cores staging and production leave
	// idle.
	Resources Resources `json:"resources"`
	// Security is the check's user and group.
	Security Security `json:"security"`
	// Timeout is how long `pulumi up` waits for the check. Allowed: 1m to 6h.
	Timeout Duration `json:"timeout"`
}

// NamespaceBuild is the build tier's namespace.
const NamespaceBuild = "lamina-build"

// BuildDir is the subdirectory of data.dir that holds the build tier's exported
// sources (sources/<commit>) and its dependency cache (cache).
const BuildDir = "build"

// buildsCommits reports whether `pulumi up` runs the checks of a commit.
func (c *Config) buildsCommits() bool {
	return c.Build.Enabled && c.Build.Commit != "" && c.Cluster.Target == TargetColima
}
