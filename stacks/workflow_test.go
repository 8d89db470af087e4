package stacks_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// A job of the pull-request workflow that runs on the Mac, or that reads the stacks'
// passphrase, runs a branch's code with the Mac's state and secrets: it must wait in the
// environment whose required reviewers approve each run, and never run for a fork.
func TestPullRequestCodeReachesTheMacOnlyAfterReview(t *testing.T) {
	data, err := os.ReadFile("../.github/workflows/preview.yml")
	require.NoError(t, err)
	var workflow struct {
		Jobs map[string]struct {
			If          string `yaml:"if"`
			Environment string `yaml:"environment"`
			RunsOn      labels `yaml:"runs-on"`
			Steps       []struct {
				Env map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	require.NoError(t, yaml.Unmarshal(data, &workflow))
	var onTheMac int
	for name, job := range workflow.Jobs {
		secret := false
		for _, step := range job.Steps {
			for _, v := range step.Env {
				secret = secret || strings.Contains(v, "secrets.PULUMI_CONFIG_PASSPHRASE")
			}
		}
		if !secret && !strings.Contains(strings.Join(job.RunsOn, " "), "self-hosted") {
			continue
		}
		onTheMac++
		assert.Equal(t, "lamina-mac", job.Environment, "%s runs a branch's code on the Mac: it must wait for a reviewer", name)
		assert.Equal(t, "github.event.pull_request.head.repo.full_name == github.repository", job.If, "%s must never run for a fork", name)
	}
	assert.Equal(t, 1, onTheMac, "the preview job")
}

// labels are a job's runs-on: one label or a list of them.
type labels []string

func (l *labels) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = labels{n.Value}
		return nil
	}
	return n.Decode((*[]string)(l))
}
