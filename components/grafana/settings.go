package grafana

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/spec"
)

// Grafana's settings on both targets: the chart writes them into grafana.ini on the
// Kubernetes target, the Docker target sets them as Grafana's environment (Env). A
// change here reaches both.

// grafanaIni are the grafana.ini settings the program sets, by section.
type grafanaIni struct {
	Server struct {
		RootURL string `json:"root_url"`
	} `json:"server"`
	// No update checks or usage reports: Grafana reaches no internet.
	Analytics struct {
		CheckForUpdates  bool `json:"check_for_updates"`
		ReportingEnabled bool `json:"reporting_enabled"`
	} `json:"analytics"`
	Users struct {
		AllowSignUp bool `json:"allow_sign_up"`
	} `json:"users"`
	// Grafana installs its default plugins from grafana.com at every start unless told
	// not to (pkg/setting/setting_plugins.go); without an internet it waits on them.
	Plugins struct {
		PreinstallDisabled bool `json:"preinstall_disabled"`
	} `json:"plugins"`
}

// settings are the settings of a Grafana browsers reach at rootURL.
func settings(rootURL string) grafanaIni {
	var ini grafanaIni
	ini.Server.RootURL = rootURL
	ini.Analytics.CheckForUpdates, ini.Analytics.ReportingEnabled = false, false
	ini.Users.AllowSignUp = false
	ini.Plugins.PreinstallDisabled = true
	return ini
}

// Env is the settings of a Grafana browsers reach at rootURL as its environment:
// GF_<SECTION>_<KEY>, which Grafana reads over grafana.ini (pkg/setting's
// applyEnvVariableOverrides), sorted.
func Env(rootURL string) spec.Env {
	b, err := json.Marshal(settings(rootURL))
	if err != nil {
		panic(fmt.Sprintf("grafana: %v", err)) // our own type: cannot fail
	}
	var sections map[string]map[string]any
	if err := json.Unmarshal(b, &sections); err != nil {
		panic(fmt.Sprintf("grafana: %v", err))
	}
	var env spec.Env
	for _, section := range slices.Sorted(maps.Keys(sections)) {
		for _, key := range slices.Sorted(maps.Keys(sections[section])) {
			env = append(env, spec.Var{
				Name:  "GF_" + strings.ToUpper(section) + "_" + strings.ToUpper(key),
				Value: fmt.Sprint(sections[section][key]),
			})
		}
	}
	return env
}

// DatasourcesFile is the provisioning file of datasources (the chart's datasources.yaml
// holds the same).
func DatasourcesFile(datasources []Datasource) string {
	return kube.YAML(datasourcesFile(datasources))
}

// datasourcesFile provisions datasources with the first that IsDefault the only default:
// Grafana refuses a second default in one organization and does not start.
func datasourcesFile(datasources []Datasource) provisioning {
	out := make([]Datasource, len(datasources))
	copy(out, datasources)
	seen := false
	for i := range out {
		out[i].IsDefault = out[i].IsDefault && !seen
		seen = seen || out[i].IsDefault
	}
	return provisioning{APIVersion: 1, Datasources: out}
}
