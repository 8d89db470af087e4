package config_test

// projectDir is the repository root, where Pulumi.yaml, the stack files and docs/ live.
const projectDir = "../.."

var bothStacks = []string{"development", "production"}
