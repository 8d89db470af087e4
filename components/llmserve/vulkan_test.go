package llmserve

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The GPU check passes only on a Vulkan device that llama-server lists on standard
// output. The fake llama-server prints what llama.cpp b7993 prints: the device list on
// stdout (common/arg.cpp L2239-2257), and on stderr the backend loader's line, which a
// build with dynamically loaded backends prints even when Vulkan finds no device
// (ggml/src/ggml-backend-reg.cpp L233, ggml-vulkan.cpp L5567-5571).
func TestVulkanCheckNeedsAListedDevice(t *testing.T) {
	const loaded = "ggml_vulkan: Found 1 Vulkan devices:\nload_backend: loaded Vulkan backend from /app/libggml-vulkan.so\n"
	for _, tc := range []struct {
		name, stdout, stderr string
		pass                 bool
	}{
		{"a Venus device", "Available devices:\n  Vulkan0: Virtio-GPU Venus (Apple M3 Ultra) (49152 MiB, 49152 MiB free)\n", loaded, true},
		{"the backend loaded, no device", "Available devices:\n", "ggml_vulkan: No devices found.\nload_backend: loaded Vulkan backend from /app/libggml-vulkan.so\n", false},
		{"a later build's empty list", "Available devices:\n  (none)\n", "load_backend: loaded Vulkan backend from /app/libggml-vulkan.so\n", false},
		{"a build without Vulkan", "Available devices:\n", "", false},
		{"a device named only in a log line", "Available devices:\n", "ggml_vulkan: 0 = Vulkan0: llvmpipe (LLVM 15.0.7, 256 bits)\n", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bin := t.TempDir()
			script := "#!/bin/sh\n[ \"$1\" = --list-devices ] || exit 64\nprintf '%s' '" + tc.stderr + "' >&2\nprintf '%s' '" + tc.stdout + "'\n"
			if err := os.WriteFile(filepath.Join(bin, "llama-server"), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(VulkanCheck[0], VulkanCheck[1:]...)
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin"}
			out, err := cmd.CombinedOutput()
			if (err == nil) != tc.pass {
				t.Fatalf("the check %s; want pass %v:\n%s", map[bool]string{true: "passed", false: "failed"}[err == nil], tc.pass, out)
			}
			if !tc.pass && !strings.Contains(string(out), "lists no Vulkan device (lamina:llm.accelerator gpu)") {
				t.Errorf("the failure does not say why:\n%s", out)
			}
		})
	}
}
