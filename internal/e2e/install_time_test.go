package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// slowSteps are how long the simulated slow steps take with -delays realistic. Only
// what a Mac does is slowed down; the engine, the providers, Helm and the API server run
// at their own speed. Image pulls are left out unless -image-pull says how long each
// pod's takes (without, the images are on the VM already, as on every `up` after a
// VM's first), and so is the first-ever download of Colima's VM image.
var slowSteps = struct {
	// vmStart is `colima start` of a new vz VM with k3s: boot, Docker, then k3s up
	// with its node Ready (Colima waits for it before it returns).
	vmStart time.Duration
	// podStart is a container's start once scheduled, its image present: sandbox,
	// network, process. A pod is Ready this long after it is scheduled, plus the
	// longest initialDelaySeconds of its containers' startup and readiness probes, which
	// the charts set from what their software needs (Loki's and Prometheus's 30 s).
	podStart time.Duration
}{vmStart: 60 * time.Second, podStart: 5 * time.Second}

// realisticStages writes, into dir, kwok's stages from the file fast with the pod-ready
// stage delayed as slowSteps says, and returns its path.
func realisticStages(fast, dir string) (string, error) {
	data, err := os.ReadFile(fast)
	if err != nil {
		return "", err
	}
	start := slowSteps.podStart + *pullFlag
	delay := fmt.Sprintf(`"\(%d + ([.spec.containers[] | (.startupProbe.initialDelaySeconds // 0), (.readinessProbe.initialDelaySeconds // 0)] | max))s"`,
		int(start.Seconds()))
	var docs []string
	found := false
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var stage map[string]any
		if err := yaml.Unmarshal([]byte(doc), &stage); err != nil {
			return "", fmt.Errorf("%s: %w", fast, err)
		}
		if stage == nil {
			continue
		}
		if metadata, _ := stage["metadata"].(map[string]any); metadata["name"] == "pod-ready" {
			spec, _ := stage["spec"].(map[string]any)
			if spec == nil {
				return "", fmt.Errorf("%s: the pod-ready stage has no spec", fast)
			}
			spec["delay"] = map[string]any{
				"durationMilliseconds": start.Milliseconds(),
				"durationFrom":         map[string]any{"jq": map[string]any{"expression": delay}},
			}
			found = true
		}
		out, err := yaml.Marshal(stage)
		if err != nil {
			return "", err
		}
		docs = append(docs, string(out))
	}
	if !found {
		return "", fmt.Errorf("%s has no pod-ready stage to delay", fast)
	}
	path := filepath.Join(dir, "kwok-stages-realistic.yaml")
	return path, os.WriteFile(path, []byte(strings.Join(docs, "---\n")), 0o644)
}

// BenchmarkUpFromNothing measures `pulumi up -s development` from nothing (a new VM
// included) with every slow step taking as long as slowSteps says, once as the engine
// runs it (parallel) and once with every step after the one before (--parallel=1), as
// the original's scripts did. -program runs another checkout's program on the same
// simulation, for a before-and-after. docs/testing.md has the command.
func BenchmarkUpFromNothing(b *testing.B) {
	w := the(b)
	if !w.realistic {
		b.Fatal("run with -args -delays realistic: with no simulated delay the times say nothing of what a user waits for")
	}
	for _, variant := range []struct {
		name string
		args []string
	}{
		{"parallel", nil},
		{"one-at-a-time", []string{"--parallel=1"}},
	} {
		b.Run(variant.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				p := newProject(b, w, "development")
				w.installPlugins(b, p)
				p.must(b, "stack", "init", "development")
				p.configure(b)
				// The language host builds the program here, so that the timed up
				// only relinks it, as every up after a user's first does.
				p.must(b, "preview", "-s", p.stack)
				b.StartTimer()
				out, took := p.timed(b, append([]string{"up", "--yes", "-s", p.stack}, variant.args...)...)
				b.StopTimer()
				b.ReportMetric(took.Seconds(), "s/up")
				b.ReportMetric(engineDuration(b, out).Seconds(), "engine-s/up")
				b.Log(readiness(b, w))
				p.must(b, "destroy", "--yes", "-s", p.stack)
				p.must(b, "stack", "rm", "--yes", "-s", p.stack)
			}
		})
	}
}

// readiness says, for each pod, when it was created and when it was Ready, counted from
// the first pod's creation, latest Ready first: what the delays of slowSteps came to for
// these charts, and which pods the run waited on last.
func readiness(b *testing.B, w *world) string {
	pods, err := w.clientset.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	type ready struct {
		pod            string
		created, ready time.Time
	}
	var all []ready
	var first time.Time
	for _, pod := range pods.Items {
		for _, c := range pod.Status.Conditions {
			if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
				all = append(all, ready{pod.Namespace + "/" + pod.Name, pod.CreationTimestamp.Time, c.LastTransitionTime.Time})
				if first.IsZero() || pod.CreationTimestamp.Time.Before(first) {
					first = pod.CreationTimestamp.Time
				}
			}
		}
	}
	slices.SortFunc(all, func(a, b ready) int { return b.ready.Compare(a.ready) })
	lines := []string{fmt.Sprintf("  %-66s %8s %6s %6s", "pod", "created", "Ready", "took")}
	for _, r := range all {
		lines = append(lines, fmt.Sprintf("  %-66s %7.0fs %5.0fs %5.0fs", r.pod,
			r.created.Sub(first).Seconds(), r.ready.Sub(first).Seconds(), r.ready.Sub(r.created).Seconds()))
	}
	return fmt.Sprintf("%d pods Ready, counted from the first pod's creation:\n%s", len(all), strings.Join(lines, "\n"))
}
