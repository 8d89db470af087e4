// Command embed writes the files the provider's main embeds, as the upstream
// generate.go does: the schema with its version set, and the Terraform mapping,
// compacted.
//
//	go run ./embed <provider's cmd/pulumi-resource-kubernetes dir> <output dir> <version>
package main

import (
	"encoding/json"
	"log"
	"os"
	"path/filepath"
)

func main() {
	if len(os.Args) != 4 {
		log.Fatal("usage: embed <source dir> <output dir> <version>")
	}
	src, out, version := os.Args[1], os.Args[2], os.Args[3]
	var schema map[string]any
	read(filepath.Join(src, "schema.json"), &schema)
	schema["version"] = version
	write(filepath.Join(out, "schema-embed.json"), schema)
	var mapping any
	read(filepath.Join(src, "terraform-mapping.json"), &mapping)
	write(filepath.Join(out, "terraform-mapping-embed.json"), mapping)
}

func read(path string, v any) {
	data, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		log.Fatalf("%s: %v", path, err)
	}
}

func write(path string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		log.Fatal(err)
	}
}
