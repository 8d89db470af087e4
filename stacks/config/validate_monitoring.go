package config

import (
	"regexp"
	"strconv"
	"time"
)

var prometheusDuration = regexp.MustCompile(`^([1-9][0-9]*)(h|d|w)$`)

// validateMonitoring checks Prometheus's chart, retention, interval, storage and sizing.
func validateMonitoring(c *Config, ps *problems) {
	p := c.Monitoring.Prometheus
	key := "lamina:monitoring.prometheus"
	validateChart(ps, key+".chart", p.Chart)
	if hours, ok := retentionHours(p.Retention); !ok {
		ps.add(key+".retention", "%s is not a Prometheus retention; allowed: a whole number of hours, days or weeks such as 36h, 7d or 4w", quote(p.Retention))
	} else if hours < 24 || hours > 730*24 {
		ps.add(key+".retention", "%s is out of range; allowed: 1d to 730d", p.Retention)
	}
	durationInRange(ps, key+".scrapeInterval", p.ScrapeInterval, 5*time.Second, 5*time.Minute)
	if size, ok := parseQuantity(p.StorageSize); !ok || size < 1<<30 || size > 10<<40 {
		ps.add(key+".storageSize", "%s is not a size from 1Gi to 10Ti", quote(p.StorageSize))
	}
	validateResources(ps, key+".resources", p.Resources)
	validateResources(ps, key+".kubeStateMetricsResources", p.KubeStateMetricsResources)
}

// retentionHours reads a Prometheus retention such as 7d into hours.
func retentionHours(s string) (int, bool) {
	m := prometheusDuration.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n > 1<<20 {
		return 0, false
	}
	return n * map[string]int{"h": 1, "d": 24, "w": 24 * 7}[m[2]], true
}
