package config

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

var (
	modelName   = regexp.MustCompile(`^[a-z0-9]([a-z0-9._-]{0,62}[a-z0-9])?$`)
	agentName   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)
	useCase     = regexp.MustCompile(`^[a-z][a-z0-9-]{0,30}$`)
	quantLabel  = regexp.MustCompile(`^[A-Za-z0-9_]{1,20}$`)
	hfRepo      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$`)
	ollamaModel = regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9._-]+)?$`)
)

// ManagedEnv are the environment variables the program sets on each workload, by the
// config key of the workload's env: a stack may not set them itself.
var ManagedEnv = map[string][]string{
	"lamina:core.env":      {"AGENT_NAME", "CHROMADB_TOKEN", "CHROMA_HOST", "CHROMA_PORT", "LAMINA_AGENTS", "LAMINA_LLM_URL", "SERVER_MODE"},
	"lamina:dashboard.env": {"KUBERNETES_NAMESPACE", "PROMETHEUS_URL"},
}

// validateDashboard checks the dashboard's size, user and environment.
func validateDashboard(c *Config, ps *problems) {
	key := "lamina:dashboard"
	validateResources(ps, key+".resources", c.Dashboard.Resources)
	validateSecurity(ps, key+".security", c.Dashboard.Security)
	validateEnv(c, ps, key, c.Dashboard.Env)
}

// validateFit checks that the whole platform fits in the VM, once the VM's size and
// every workload's requests are valid.
func validateFit(c *Config, ps *problems) {
	// The VM's own size is checked first; an impossible size says nothing about fit.
	cpuBudget, memBudget := c.Host.vmBudget()
	// So are the requests: a capacity total made of invalid ones would only add noise.
	if c.Cluster.Target == TargetColima && c.Colima.CPUs >= 1 && c.Colima.CPUs <= cpuBudget &&
		c.Colima.MemoryGiB >= minVMMemoryGiB && c.Colima.MemoryGiB <= memBudget {
		demands := c.Demands()
		keys := []string{"lamina:mesh.proxyResources"}
		for _, d := range demands {
			keys = append(keys, d.Key)
		}
		if !ps.about(keys...) {
			validateCapacity(c, ps, demands)
		}
	}
}

func validateImages(c *Config, ps *problems) {
	im := c.Images
	if from := im.PromoteFrom; from != "" {
		switch {
		case !stackName.MatchString(from):
			ps.add("lamina:images.promoteFrom", "%s is not a stack name; allowed: empty, or the stack whose images this stack runs (staging)", quote(from))
		case from == c.stack:
			ps.add("lamina:images.promoteFrom", "names this stack (%s); allowed: another stack on the same cluster and Docker daemon", from)
		}
		// The Lamina images' own settings are not used.
	}
	building := false
	for _, i := range c.images() {
		if !i.im.Build {
			validateImageRef(c, ps, i.key+".reference", i.im.Reference)
			continue
		}
		building = true
		for _, f := range []struct{ key, path string }{{i.key + ".context", i.im.Context}, {i.key + ".dockerfile", i.im.Dockerfile}} {
			if f.path == "" || path.IsAbs(f.path) || path.Clean(f.path) != f.path || f.path == ".." || strings.HasPrefix(f.path, "../") || hasControl(f.path) {
				ps.add(f.key, "%s is not a clean path inside lamina:images.checkout; allowed: a relative path such as packages/lamina-core or .", quote(f.path))
			}
		}
		if c.Cluster.Target == TargetExisting && c.Cluster.DockerHost == "" {
			ps.add(i.key+".build", "is true, but lamina:cluster.target existing has no lamina:cluster.dockerHost to build on; set the nodes' Docker daemon there, or set build false with a reference")
		}
	}
	if !building && !c.buildsCommits() {
		return
	}
	ch := im.Checkout
	if (!path.IsAbs(ch) && !strings.HasPrefix(ch, "~/")) || hasControl(ch) || path.Clean(ch) != ch && ch != "~/" {
		ps.add("lamina:images.checkout", "%s is not a checkout directory; allowed: an absolute, clean path or one starting with ~/", quote(ch))
		return
	}
	if c.stat == nil {
		return
	}
	// On the Mac: the build inputs must be there before anything is changed.
	dir := ExpandHome(ch)
	if info, err := c.stat(dir); err != nil || !info.IsDir() {
		ps.add("lamina:images.checkout", "%s is not a directory here; clone Lamina OS there (git clone <lamina-os repository> %s) or set the images' build false with a reference", dir, dir)
		return
	}
	for _, i := range c.images() {
		if !i.im.Build {
			continue
		}
		if info, err := c.stat(path.Join(dir, i.im.Context)); err != nil || !info.IsDir() {
			ps.add(i.key+".context", "%s is not a directory of the checkout", path.Join(dir, i.im.Context))
		}
		if info, err := c.stat(path.Join(dir, i.im.Dockerfile)); err != nil || info.IsDir() {
			ps.add(i.key+".dockerfile", "%s is not a file of the checkout; give the Dockerfile's path relative to lamina:images.checkout, or set build false with a reference", path.Join(dir, i.im.Dockerfile))
		}
	}
}

func validateEnv(c *Config, ps *problems, section string, env map[string]string) {
	key := section + ".env"
	if c.Secret(section) && len(env) > 0 {
		ps.add(key, "%s is a secret in the stack file, but env values go into the pod spec and the state in plaintext; keep secrets out of env (a Kubernetes Secret the workload reads is the way), and set %s without --secret", section, section)
		return
	}
	managed := ManagedEnv[key]
	for _, name := range slices.Sorted(maps.Keys(env)) {
		switch {
		case !envName.MatchString(name):
			ps.add(key+"."+name, "is not an environment variable name; allowed: letters, digits and '_', not starting with a digit")
		case slices.Contains(managed, name):
			ps.add(key+"."+name, "is set by the program; allowed: any name but %s", strings.Join(managed, ", "))
		case strings.ContainsRune(env[name], 0):
			ps.add(key+"."+name, "contains a NUL character")
		}
	}
}

func validateLLM(c *Config, ps *problems) {
	l := c.LLM
	key := "lamina:llm"
	inRange(ps, key+".replicas", l.Replicas, 1, 10)
	validateResources(ps, key+".resources", l.Resources)
	validateSecurity(ps, key+".security", l.Security)
	validateEnv(c, ps, key, l.Env)
	validateSize(ps, key+".modelStoreSize", l.ModelStoreSize, 64<<40, "64Ti")
	validatePlacement(c, ps, key+".placement", l.Placement)

	total := 0.0
	enabled := 0
	paths := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(l.Models)) {
		m := l.Models[name]
		mk := entryKey(key+".models", name)
		if !modelName.MatchString(name) {
			ps.add(mk, "is not a model name; allowed: lower-case letters, digits, '.', '_' and '-', starting and ending with a letter or digit")
		}
		if m.Disabled {
			continue
		}
		enabled++
		p := m.Path
		switch {
		case p == "" || path.IsAbs(p) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") || hasControl(p):
			ps.add(mk+".path", "%s is not a clean path inside the model store; allowed: a relative path such as llama/model.gguf", quote(p))
		case m.Backend == BackendLlamaCpp && !strings.HasSuffix(p, ".gguf"):
			ps.add(mk+".path", "%s is not a .gguf file; llama.cpp serves GGUF files only", quote(p))
		case paths[p] != "":
			ps.add(mk+".path", "%s is also the path of model %s", quote(p), paths[p])
		}
		paths[p] = name
		oneOf(ps, mk+".backend", m.Backend, BackendLlamaCpp)
		if !quantLabel.MatchString(m.Quantization) {
			ps.add(mk+".quantization", "%s is not a quantization label; allowed: letters, digits and '_' such as Q4_K_M", quote(m.Quantization))
		}
		size, ok := ParseQuantity(m.Size)
		if !ok || size < 1<<20 || size > 4<<40 {
			ps.add(mk+".size", "%s is not a size from 1Mi to 4Ti", quote(m.Size))
		} else {
			total += size
		}
		if len(m.UseCases) == 0 {
			ps.add(mk+".useCases", "is empty; name at least one use case")
		}
		for i, u := range m.UseCases {
			if !useCase.MatchString(u) {
				ps.add(mk+".useCases["+strconv.Itoa(i)+"]", "%s is not a use case; allowed: a lower-case word such as reasoning", quote(u))
			}
		}
		d := m.Download
		switch {
		case d.HuggingFace != "" && d.Ollama != "":
			ps.add(mk+".download", "names both huggingface and ollama; allowed: one source")
		case d.HuggingFace != "":
			if !hfRepo.MatchString(d.HuggingFace) {
				ps.add(mk+".download.huggingface", "%s is not a repository ID; allowed: owner/name", quote(d.HuggingFace))
			}
			if d.File == "" || path.Clean(d.File) != d.File || strings.HasPrefix(d.File, "../") || path.IsAbs(d.File) {
				ps.add(mk+".download.file", "%s is not a file of the repository", quote(d.File))
			}
		case d.Ollama != "":
			if !ollamaModel.MatchString(d.Ollama) {
				ps.add(mk+".download.ollama", "%s is not an Ollama model; allowed: name or name:tag", quote(d.Ollama))
			}
		default:
			ps.add(mk+".download", "names no source; allowed: huggingface with file, or ollama")
		}
	}
	if enabled == 0 {
		ps.add(key+".models", "has no enabled model; llm-serve needs at least one")
	}
	for _, use := range slices.Sorted(maps.Keys(l.Defaults)) {
		name := l.Defaults[use]
		m, ok := l.Models[name]
		switch {
		case !ok || m.Disabled:
			ps.add(key+".defaults."+use, "%s is not an enabled model of lamina:llm.models", quote(name))
		case !slices.Contains(m.UseCases, use):
			ps.add(key+".defaults."+use, "%s does not list the use case %s; its use cases: %s", name, use, strings.Join(m.UseCases, ", "))
		}
	}
	if store, ok := ParseQuantity(l.ModelStoreSize); ok && total > store {
		ps.add(key+".modelStoreSize", "%s cannot hold the catalogue's %s of models; allowed: at least %s", l.ModelStoreSize, FormatGiB(total), FormatGiB(total))
	}
	// Every server loads the models set to load into its own memory (on the CPU; on the
	// GPU they count against the GPU's, validateAccelerator).
	loaded, loads := loadedModels(l)
	if limit, ok := ParseQuantity(l.Resources.Limits.Memory); ok && loaded > limit && l.Accelerator != AcceleratorGPU {
		ps.add(key+".models", "the models set to load (%s) need %s, %s more than lamina:llm.resources.limits.memory (%s); set load false on one or raise the limit",
			strings.Join(loads, ", "), FormatGiB(loaded), FormatGiB(loaded-limit), l.Resources.Limits.Memory)
	}
}

func validateChroma(c *Config, ps *problems) {
	ch := c.Chroma
	key := "lamina:chroma"
	validateImageRef(c, ps, key+".image", ch.Image)
	validateSecretField(c, ps, key, "authToken", ch.AuthToken, "token", 24, 256)
	validateSize(ps, key+".storageSize", ch.StorageSize, 10<<40, "10Ti")
	validateResources(ps, key+".resources", ch.Resources)
	validateSecurity(ps, key+".security", ch.Security)
}

func validateCore(c *Config, ps *problems) {
	co := c.Core
	key := "lamina:core"
	oneOf(ps, key+".mode", co.Mode, ModeSingleAgent, ModeMultiAgent)
	switch {
	case len(co.Agents) == 0:
		ps.add(key+".agents", "is empty; the server needs at least one agent")
	case co.Mode == ModeSingleAgent && len(co.Agents) != 1:
		ps.add(key+".agents", "lists %d agents; single-agent mode runs exactly one (or set lamina:core.mode to multi-agent)", len(co.Agents))
	}
	seen := map[string]bool{}
	for i, a := range co.Agents {
		k := key + ".agents[" + strconv.Itoa(i) + "]"
		switch {
		case !agentName.MatchString(a):
			ps.add(k, "%s is not an agent name; allowed: a lower-case name such as clara", quote(a))
		case seen[a]:
			ps.add(k, "%s is listed twice", a)
		}
		seen[a] = true
	}
	inRange(ps, key+".replicas", co.Replicas, 1, 10)
	validateResources(ps, key+".resources", co.Resources)
	validateSecurity(ps, key+".security", co.Security)
	validateEnv(c, ps, key, co.Env)
}

// validateCapacity checks that every workload's requests fit in the VM beside k3s and
// the system pods, naming the workloads that take the most.
func validateCapacity(c *Config, ps *problems, demands []Demand) {
	reserveCPU, _ := ParseQuantity(SystemReserve.CPU)
	reserveMem, _ := ParseQuantity(SystemReserve.Memory)
	availCPU := float64(c.Colima.CPUs) - reserveCPU
	availMem := float64(c.Colima.MemoryGiB)*(1<<30) - reserveMem
	cpu, mem, surgeCPU, surgeMem := Totals(demands)
	// rolling says what a rollout adds to the total.
	rolling := func(d *Demand, amount func(Demand) string) string {
		if d == nil {
			return ""
		}
		return fmt.Sprintf(" (%s of it to start the new pod of %s before the old one stops)", amount(*d), d.Name)
	}
	largest := func(of func(Demand) float64, unit func(float64) string) string {
		sorted := slices.Clone(demands)
		slices.SortStableFunc(sorted, func(a, b Demand) int {
			x, y := float64(a.Pods)*of(a), float64(b.Pods)*of(b)
			switch {
			case x > y:
				return -1
			case x < y:
				return 1
			}
			return 0
		})
		var parts []string
		for _, d := range sorted[:min(3, len(sorted))] {
			parts = append(parts, fmt.Sprintf("%s %d × %s (%s)", d.Name, d.Pods, unit(of(d)), d.Key))
		}
		return strings.Join(parts, ", ")
	}
	if mem > availMem {
		ps.add("lamina:colima.memoryGiB", "%d GiB cannot hold the workloads: their requests, sidecars included, come to %s%s, %s more than the %s the VM has for them after %s for k3s and system pods; the largest: %s. Raise the VM's memory or lower those requests",
			c.Colima.MemoryGiB, FormatGiB(mem), rolling(surgeMem, func(d Demand) string { return FormatGiB(d.Memory) }), FormatGiB(mem-availMem), FormatGiB(availMem), SystemReserve.Memory, largest(func(d Demand) float64 { return d.Memory }, FormatGiB))
	}
	if cpu > availCPU {
		ps.add("lamina:colima.cpus", "%d cores cannot hold the workloads: their requests, sidecars included, come to %s cores%s, %s more than the %s the VM has for them after %s for k3s and system pods; the largest: %s. Raise the VM's cores or lower those requests",
			c.Colima.CPUs, FormatCores(cpu), rolling(surgeCPU, func(d Demand) string { return FormatCores(d.CPU) }), FormatCores(cpu-availCPU), FormatCores(availCPU), SystemReserve.CPU, largest(func(d Demand) float64 { return d.CPU }, func(v float64) string { return FormatCores(v) + " cores" }))
	}
}
