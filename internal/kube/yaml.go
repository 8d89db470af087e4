package kube

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// YAML writes typed values as a YAML file by their JSON names (as the charts read the
// same types), keys sorted: the configuration files the Docker target hands its
// containers. It panics on a value JSON cannot hold: the program's own types.
func YAML(v any) string {
	var out strings.Builder
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(jsonValue(v)); err != nil {
		panic(fmt.Sprintf("kube.YAML: %v", err))
	}
	return out.String()
}
