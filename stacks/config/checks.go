package config

// Checks every validator shares: ranges, allowed values, resources. They call only
// problems.go and quantity.go.

import (
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
