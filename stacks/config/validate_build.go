package config

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"time"
)

// commitID is a full commit ID: SHA-1 (40 hex digits) or SHA-256 (64).
var commitID = regexp.MustCompile(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// Limits of the build tier.
const (
	minCheckTimeout = time.Minute
	maxCheckTimeout = 6 * time.Hour
)

// ValidateCommit says why id is not a full commit ID, which the build tier checks.
func ValidateCommit(id string) error {
	if commitID.MatchString(id) {
		return nil
	}
	return fmt.Errorf("%s is not a full commit ID; allowed: the 40 lower-case hex digits git rev-parse <branch> prints (64 in a SHA-256 repository): a branch or tag moves, and the check would not say what it checked", quote(id))
}

func validateBuild(c *Config, ps *problems) {
	b := c.Build
	if !b.Enabled {
		return
	}
	switch c.Cluster.Target {
	case TargetShared:
		ps.add("lamina:build.enabled", "is true, but a shared stack's build tier is its platform's (stack %s); set it false", c.Cluster.Platform)
		return
	case TargetExisting:
		ps.add("lamina:build.enabled", "is true, but lamina:cluster.target existing does not mount lamina:data.dir from this Mac, where the commit's tree is exported; allowed: true only with target colima")
		return
	}
	if err := ValidateCommit(b.Commit); b.Commit != "" && err != nil {
		ps.add("lamina:build.commit", "%v; or empty", err)
	} else if b.Commit != "" && c.stat != nil {
		if dir := ExpandHome(c.Images.Checkout); dir != "" {
			if _, err := c.stat(path.Join(dir, ".git")); err != nil {
				ps.add("lamina:build.commit", "is set, but %s is not a git checkout (it has no .git), so no commit's tree can be exported from it; set lamina:images.checkout to a clone of Lamina OS", dir)
			}
		}
	}
	if len(b.Command) == 0 {
		ps.add("lamina:build.command", "is empty; allowed: one or more arguments, such as [make, check]")
	}
	for i, arg := range b.Command {
		if arg == "" && i == 0 || hasControl(arg) {
			ps.add("lamina:build.command["+strconv.Itoa(i)+"]", "%s is not an argument; allowed: text without control characters, the first a command name or absolute path", quote(arg))
		}
	}
	validateResources(ps, "lamina:build.resources", b.Resources)
	validateSecurity(ps, "lamina:build.security", b.Security)
	if b.Timeout.Duration < minCheckTimeout || b.Timeout.Duration > maxCheckTimeout {
		ps.add("lamina:build.timeout", "%s is out of range; allowed: %s to %s", b.Timeout, minCheckTimeout, maxCheckTimeout)
	}
	if level := c.Namespaces.PodSecurity[NamespaceBuild]; level != "restricted" {
		ps.add("lamina:namespaces.podSecurity."+NamespaceBuild, "is %s; the build tier runs the code of any commit, so it enforces restricted; allowed: restricted", quote(level))
	}
}
