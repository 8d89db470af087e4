package config

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var prometheusDuration = regexp.MustCompile(`^([1-9][0-9]*)(h|d|w)$`)

// validateMonitoring checks Prometheus's chart, retention, interval, storage and sizing.
func validateMonitoring(c *Config, ps *problems) {
	p := c.Monitoring.Prometheus
	key := "lamina:monitoring.prometheus"
	validateRetention(ps, key+".retention", p.Retention)
	durationInRange(ps, key+".scrapeInterval", p.ScrapeInterval, 5*time.Second, 5*time.Minute)
	validateSize(ps, key+".storageSize", p.StorageSize, 10<<40, "10Ti")
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

var grafanaUser = regexp.MustCompile(`^[A-Za-z0-9._@-]{1,64}$`)

// validateGrafana checks the chart, the administrator and the sizing. The password is
// checked without ever being shown.
func validateGrafana(c *Config, ps *problems) {
	g := c.Grafana
	key := "lamina:grafana"
	if !grafanaUser.MatchString(g.AdminUser) {
		ps.add(key+".adminUser", "%s is not a user name; allowed: 1 to 64 letters, digits, '-', '_', '.' or '@'", quote(g.AdminUser))
	}
	if g.AdminPassword == "" && c.Profile == Production {
		ps.add(key+".adminPassword", "is required in production; set it with: %s", setSecret(c, key+".adminPassword", "password"))
	}
	validateSecretField(c, ps, key, "adminPassword", g.AdminPassword, "password", 12, 128)
	validateSize(ps, key+".storageSize", g.StorageSize, 1<<40, "1Ti")
	validateResources(ps, key+".resources", g.Resources)
}

// validateRetention checks a retention such as 7d: whole hours, days or weeks, 1d to 730d.
func validateRetention(ps *problems, key, retention string) {
	if hours, ok := retentionHours(retention); !ok {
		ps.add(key, "%s is not a retention; allowed: a whole number of hours, days or weeks such as 36h, 7d or 4w", quote(retention))
	} else if hours < 24 || hours > 730*24 {
		ps.add(key, "%s is out of range; allowed: 1d to 730d", retention)
	}
}

// validateLogs checks Loki's and Vector's charts, retention, storage and sizing.
func validateLogs(c *Config, ps *problems) {
	l := c.Logs
	validateRetention(ps, "lamina:logs.loki.retention", l.Loki.Retention)
	validateSize(ps, "lamina:logs.loki.storageSize", l.Loki.StorageSize, 10<<40, "10Ti")
	validateResources(ps, "lamina:logs.loki.resources", l.Loki.Resources)
	validateResources(ps, "lamina:logs.vector.resources", l.Vector.Resources)
}

// validateTracing checks Jaeger's chart, store bound and sizing.
func validateTracing(c *Config, ps *problems) {
	j := c.Tracing.Jaeger
	inRange(ps, "lamina:tracing.jaeger.maxTraces", j.MaxTraces, 1000, 10000000)
	validateResources(ps, "lamina:tracing.jaeger.resources", j.Resources)
	col := c.Tracing.Collector
	inRange(ps, "lamina:tracing.collector.replicas", col.Replicas, 1, 10)
	validateResources(ps, "lamina:tracing.collector.resources", col.Resources)
}

// validateKiali checks the chart, the strategy and, with openid, its client.
func validateKiali(c *Config, ps *problems) {
	k := c.Kiali
	key := "lamina:kiali"
	strategies := []string{KialiAnonymous, KialiToken, KialiOpenID}
	switch {
	case !slices.Contains(strategies, k.AuthStrategy):
		ps.add(key+".authStrategy", "%s is not a strategy; allowed: %s", quote(k.AuthStrategy), strings.Join(strategies, ", "))
	case k.AuthStrategy == KialiAnonymous && c.Profile == Production:
		ps.add(key+".authStrategy", "anonymous lets anyone who reaches kiali in; production allows: token, openid")
	}
	o := k.OpenID
	if k.AuthStrategy == KialiOpenID {
		if u, err := url.Parse(o.IssuerURI); err != nil || u.Scheme != "https" || u.Host == "" {
			ps.add(key+".openID.issuerURI", "%s is not an https:// URL; required with authStrategy openid", quote(o.IssuerURI))
		}
		if o.ClientID == "" {
			ps.add(key+".openID.clientID", "is empty; required with authStrategy openid")
		}
		if o.ClientSecret == "" {
			ps.add(key+".openID.clientSecret", "is empty; required with authStrategy openid; set it with: %s", setSecret(c, key+".openID.clientSecret", "secret"))
		}
	}
	validateSecretField(c, ps, key, "openID.clientSecret", o.ClientSecret, "secret", 1, 4096)
	validateResources(ps, key+".resources", k.Resources)
}
