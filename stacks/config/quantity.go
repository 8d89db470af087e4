package config

// Quantities: the Kubernetes quantities the config holds, as numbers and back. Calls
// nothing else in the package.

import (
	"regexp"
	"strconv"
)

// FormatGiB prints bytes as GiB with at most one decimal.
func FormatGiB(b float64) string {
	return strconv.FormatFloat(float64(int64(b/(1<<30)*10+0.5))/10, 'f', -1, 64) + "Gi"
}

// FormatCores prints a CPU amount with at most two decimals.
func FormatCores(v float64) string {
	return strconv.FormatFloat(float64(int64(v*100+0.5))/100, 'f', -1, 64)
}

// ParseQuantity reads the Kubernetes quantities the config uses into a number of units.
func ParseQuantity(s string) (float64, bool) {
	m := quantity.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	scale := map[string]float64{"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
		"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}[m[3]]
	return v * scale, true
}

// quantity is a Kubernetes quantity in the units the config uses.
var quantity = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$`)
