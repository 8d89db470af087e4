package config

// Checks every validator shares: ranges, allowed values, resources. They call only
// problems.go and quantity.go.

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

func inRange(ps *problems, key string, v, lo, hi int) {
	if v < lo || v > hi {
		ps.add(key, "%d is out of range; allowed: %d to %d", v, lo, hi)
	}
}

func oneOf(ps *problems, key, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	ps.add(key, "%s is not allowed; allowed: %s", quote(v), strings.Join(allowed, ", "))
}

func durationInRange(ps *problems, key string, d Duration, lo, hi time.Duration) {
	if d.Duration < lo || d.Duration > hi {
		ps.add(key, "%s is out of range; allowed: %s to %s", d, lo, hi)
	}
}

// validateResources checks quantities and that no request exceeds its limit.
func validateResources(ps *problems, key string, r Resources) {
	pairs := []struct {
		name, request, limit string
	}{{"cpu", r.Requests.CPU, r.Limits.CPU}, {"memory", r.Requests.Memory, r.Limits.Memory}}
	for _, p := range pairs {
		req, okReq := ParseQuantity(p.request)
		lim, okLim := ParseQuantity(p.limit)
		if !okReq {
			ps.add(key+".requests."+p.name, "%s is not a Kubernetes quantity such as 500m, 2, 512Mi or 2Gi", quote(p.request))
		}
		if !okLim {
			ps.add(key+".limits."+p.name, "%s is not a Kubernetes quantity such as 500m, 2, 512Mi or 2Gi", quote(p.limit))
		}
		if okReq && okLim && req > lim {
			ps.add(key+".requests."+p.name, "%s is more than the limit %s", p.request, p.limit)
		}
	}
}

var (
	profileName  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`)
	tenantName   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,28}[a-z0-9])?$`)
	stackName    = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,100}$`)
	k3sRelease   = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+\+k3s[0-9]+$`)
	dns1123      = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	kubeContext  = regexp.MustCompile(`^[^\s]{1,253}$`)
	dockerScheme = regexp.MustCompile(`^(unix|tcp|ssh)://.+`)
)

// Limits of the values the program accepts.
const (
	minVMMemoryGiB = 2
	minDiskGiB     = 20
	maxDiskGiB     = 8192
	minReadyWait   = 30 * time.Second
	maxReadyWait   = 30 * time.Minute
)

// validateImageRef checks a prebuilt image reference; production refuses a moving tag.
func validateImageRef(c *Config, ps *problems, key, ref string) {
	if !imageRef.MatchString(ref) || len(ref) > 512 {
		ps.add(key, "%s is not an image reference; allowed: name:tag or name@sha256:<64 hex digits>, in lower case", quote(ref))
		return
	}
	last := imageLastSeg.FindString(ref)
	m := imageTag.FindStringSubmatch(last)
	if c.Profile == Production && !imageDigest.MatchString(ref) && (m == nil || m[1] == "latest") {
		ps.add(key, "%s names no fixed version; production refuses latest and untagged images: give a version tag or a digest (name@sha256:...)", quote(ref))
	}
}

func validateSecurity(ps *problems, key string, s Security) {
	inRange(ps, key+".runAsUser", s.RunAsUser, 1, 65535)
	inRange(ps, key+".runAsGroup", s.RunAsGroup, 1, 65535)
}

// setSecret is the command that sets field (lamina:section.field) as a secret.
func setSecret(c *Config, field, placeholder string) string {
	return "pulumi config set --secret --path " + field + " <" + placeholder + "> -s " + c.Stack()
}

// validateSecretField checks a field of section that holds a secret, never shown: set,
// it must be a secret in the stack file (the whole section's key is encrypted), min to
// max characters.
func validateSecretField(c *Config, ps *problems, section, field, value, placeholder string, min, max int) {
	key := section + "." + field
	switch {
	case value == "":
	case !c.Secret(section):
		ps.add(key, "is in plaintext in the stack file; remove it and set it as a secret with: %s", setSecret(c, key, placeholder))
	case value != SecretPlaceholder && (len(value) < min || len(value) > max):
		ps.add(key, "has %d characters; allowed: %d to %d", len(value), min, max)
	}
}

// validateSize checks a volume size from 1Gi to max (named maxName).
func validateSize(ps *problems, key, size string, max float64, maxName string) {
	if v, ok := ParseQuantity(size); !ok || v < 1<<30 || v > max {
		ps.add(key, "%s is not a size from 1Gi to %s", quote(size), maxName)
	}
}

// Image references: the whole, its tag, its digest, its last path segment.
var (
	imageRef     = regexp.MustCompile(`^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?$`)
	imageTag     = regexp.MustCompile(`:([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})(@|$)`)
	imageDigest  = regexp.MustCompile(`@sha256:[a-f0-9]{64}$`)
	imageLastSeg = regexp.MustCompile(`[^/]*$`)
)

// labelName is a Kubernetes label's name, and a label's value when not empty.
var labelName = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$`)

// validLabelValue says whether v is a Kubernetes label value: empty, or a label name.
func validLabelValue(v string) bool { return v == "" || labelName.MatchString(v) }

// validLabelKey says whether k is a Kubernetes label key, such as lamina.io/gpu: an
// optional DNS-subdomain prefix and '/', then a label name.
func validLabelKey(k string) bool {
	prefix, name, found := strings.Cut(k, "/")
	if !found {
		return labelName.MatchString(k)
	}
	return len(prefix) <= 253 && dns1123.MatchString(prefix) && labelName.MatchString(name)
}

// validatePlacement checks node labels and tolerations, and that the target has nodes.
func validatePlacement(c *Config, ps *problems, key string, p Placement) {
	if c.Cluster.Target == TargetDocker && (len(p.NodeSelector) > 0 || len(p.Tolerations) > 0) {
		ps.add(key, "the Docker target has no nodes to choose; remove it, or use lamina:cluster.target colima or existing")
		return
	}
	for _, k := range slices.Sorted(maps.Keys(p.NodeSelector)) {
		if !validLabelKey(k) {
			ps.add(entryKey(key+".nodeSelector", k), "%s is not a Kubernetes label key; allowed: an optional DNS prefix and '/', then up to 63 letters, digits, '-', '_' and '.'", quote(k))
		}
		if v := p.NodeSelector[k]; !validLabelValue(v) {
			ps.add(entryKey(key+".nodeSelector", k), "%s is not a Kubernetes label value; allowed: up to 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit", quote(v))
		}
	}
	for i, t := range p.Tolerations {
		tk := key + ".tolerations[" + strconv.Itoa(i) + "]"
		if t.Key != "" && !validLabelKey(t.Key) {
			ps.add(tk+".key", "%s is not a taint key; allowed: a Kubernetes label key", quote(t.Key))
		}
		switch t.Operator {
		case "Exists":
			if t.Value != "" {
				ps.add(tk+".value", "must be empty with operator Exists, which admits any value")
			}
		case "Equal", "":
			if t.Key == "" {
				ps.add(tk+".key", "is empty; operator Equal needs the taint's key (Exists with no key admits every taint)")
			}
			if !validLabelValue(t.Value) {
				ps.add(tk+".value", "%s is not a taint value; allowed: a Kubernetes label value", quote(t.Value))
			}
		default:
			ps.add(tk+".operator", "%s is not allowed; allowed: Equal, Exists", quote(t.Operator))
		}
		if !slices.Contains([]string{"", "NoSchedule", "PreferNoSchedule", "NoExecute"}, t.Effect) {
			ps.add(tk+".effect", "%s is not allowed; allowed: NoSchedule, PreferNoSchedule, NoExecute, or empty for all three", quote(t.Effect))
		}
	}
}
