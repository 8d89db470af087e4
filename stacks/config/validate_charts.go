package config

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
)

// validateCharts checks every pin and its extra values, and that Istio's four charts
// share a version.
func validateCharts(c *Config, ps *problems) {
	for _, p := range c.Charts() {
		ch := *p.Chart
		if u, err := url.Parse(ch.Repository); err != nil || u.Scheme != "https" || u.Host == "" {
			ps.add(p.Key+".repository", "%s is not an https:// URL", quote(ch.Repository))
		}
		if !chartName.MatchString(ch.Name) {
			ps.add(p.Key+".name", "%s is not a chart name; allowed: lower-case letters, digits and '-'", quote(ch.Name))
		}
		if !chartVersion.MatchString(ch.Version) {
			ps.add(p.Key+".version", "%s is not an exact chart version; allowed: the form 1.31.1 or v1.21.2", quote(ch.Version))
		}
		if ch.Timeout.Duration < time.Minute || ch.Timeout.Duration > time.Hour {
			ps.add(p.Key+".timeout", "%s is out of range; allowed: 1m0s to 1h0m0s", ch.Timeout)
		}
		validateValues(ps, p.Key+".values", "", "", ch.Values, p.Owned)
	}
	m := c.Mesh.Charts
	for _, other := range []struct {
		key string
		ch  HelmChart
	}{{"cni", m.CNI}, {"istiod", m.Istiod}, {"gateway", m.Gateway}} {
		if other.ch.Version != m.Base.Version {
			ps.add("lamina:mesh.charts."+other.key+".version", "%s differs from lamina:mesh.charts.base.version %s; Istio's charts must share one version",
				quote(other.ch.Version), quote(m.Base.Version))
		}
	}
}

// owned says which Helm values keys belong to the program, by what a key's name says
// it holds, in any chart, at any depth: the extra values of a release may not touch
// them. Each rule tests a key's name and its parent's, lower-cased.
var owned = []ownedKeys{
	{"a security context: the namespaces enforce Pod Security restricted", func(_, n string) bool {
		return containsAny(n, "securitycontext", "seccomp", "capabilities", "privileged", "runasuser", "runasgroup", "runasnonroot", "fsgroup", "allowprivilegeescalation")
	}},
	{"a secret or authentication: Helm keeps values in plaintext in its release record, and the program keeps secrets as Pulumi secrets and decides who signs in", func(_, n string) bool {
		return containsAny(n, "password", "secret", "token", "credential", "privatekey", "auth", "securejson")
	}},
	{"objects the chart would apply unseen by the policy pack: declare them in the program", func(_, n string) bool {
		return containsAny(n, "extraobjects", "extramanifests", "extradeploy")
	}},
	{"a service account: the authorization policies name each workload's identity", func(_, n string) bool {
		return strings.Contains(n, "serviceaccount")
	}},
	{"a name the routes and the network policies refer to", func(_, n string) bool {
		return n == "nameoverride" || n == "fullnameoverride" || n == "instance_name" || n == "app.kubernetes.io/name"
	}},
	{"a mesh label or annotation: the program decides what is in the mesh and which pods the gateway is", func(parent, n string) bool {
		return containsAny(n, "istio.io/") || (n == "istio" && strings.HasSuffix(parent, "labels"))
	}},
	{"persistence: the data lives on the host data directory's volumes", func(_, n string) bool {
		return containsAny(n, "persistence", "persistentvolume", "existingclaim", "datavolume")
	}},
}

type ownedKeys struct {
	what string
	is   func(parent, name string) bool
}

func containsAny(s string, subs ...string) bool {
	return slices.ContainsFunc(subs, func(sub string) bool { return strings.Contains(s, sub) })
}

// validateValues refuses every key of values, at any depth and through lists, that the
// program owns: by its name (owned) or by its path in this chart (paths). parent is the
// name of the key values sits under, path its dotted path from the top.
func validateValues(ps *problems, key, parent, path string, values map[string]any, paths map[string]string) {
	for _, name := range slices.Sorted(maps.Keys(values)) {
		k, p := entryKey(key, name), strings.TrimPrefix(path+"."+name, ".")
		lower := strings.ToLower(name)
		if why, ok := paths[p]; ok {
			ps.add(k, "is owned by the program (%s); set it through the typed settings or not at all", why)
			continue
		}
		if i := slices.IndexFunc(owned, func(o ownedKeys) bool { return o.is(parent, lower) }); i >= 0 {
			ps.add(k, "is owned by the program (%s); set it through the typed settings or not at all", owned[i].what)
			continue
		}
		validateValue(ps, k, lower, p, values[name], paths)
	}
}

// validateValue looks into v for owned keys: into objects, and into lists at any depth.
func validateValue(ps *problems, key, parent, path string, v any, paths map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		validateValues(ps, key, parent, path, v, paths)
	case []any:
		for j, e := range v {
			validateValue(ps, fmt.Sprintf("%s[%d]", key, j), parent, path+"[]", e, paths)
		}
	}
}
