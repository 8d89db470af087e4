package config_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/lamina-os/lamina-infra/stacks/config"
)

// No stack file, however broken, makes loading panic; every rejection is an error that
// names the file or the config keys at fault. Run longer with:
//
//	go test ./stacks/config -run '^$' -fuzz FuzzLoadStackFile -fuzztime 60s
func FuzzLoadStackFile(f *testing.F) {
	for _, stack := range bothStacks {
		data, err := os.ReadFile(config.StackFile(projectDir, stack))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, seed := range []string{
		"config:\n  lamina:colima: {cpus: [1], memoryGiB: {a: 1}, diskGiB: 1e400}\n",
		"config:\n  lamina:host: {sideBySide: [{stack: development}, 3, null]}\n",
		"config:\n  lamina:cluster: {readyTimeout: -5s, nodeCIDR: 300.1.1.1/33}\n",
		"config:\n  lamina:profile: {secure: v1:xx}\n  lamina:data: {dir: {secure: v1:yy}}\n",
		"config:\n  lamina:colima:\n    k3sArgs: [\"--a\\n--b\", 7]\n    dns: [::1]\n",
		"config:\n  ? [a, b]\n  : c\n",
		"config: 7\n",
		"{{{",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		src, err := config.ParseStackFile("Pulumi.fuzz.yaml", "lamina-infra", "development", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "Pulumi.fuzz.yaml: ") {
				t.Fatalf("rejection does not name the file: %v", err)
			}
			return
		}
		cfg, err := config.Load(src, nil)
		if err != nil {
			var cerr *config.ConfigError
			if !errors.As(err, &cerr) || len(cerr.Problems) == 0 {
				t.Fatalf("rejection is not a list of problems: %v", err)
			}
			for _, p := range cerr.Problems {
				ns, name, ok := strings.Cut(p.Key, ":")
				if !ok || ns == "" || name == "" || strings.TrimSpace(p.Message) == "" {
					t.Fatalf("problem without a key or a message: %q", p)
				}
			}
			return
		}
		if cfg.Colima.CPUs < 1 || cfg.Colima.MemoryGiB < 2 || cfg.Data.Dir == "" {
			t.Fatalf("accepted an invalid configuration: %+v", cfg)
		}
	})
}
