package config

import "github.com/lamina-os/lamina-infra/internal/spec"

// Images says where the Lamina images come from: built from a Lamina OS checkout on the
// cluster's own Docker daemon (Colima's docker runtime, whose images k3s runs without a
// registry), or taken prebuilt.
type Images struct {
	// Checkout is the Lamina OS source checkout that built images come from. Allowed: an
	// absolute path or one starting with ~/, without control characters.
	Checkout string `json:"checkout"`
	// LLMServe is lamina-llm-serve's image.
	LLMServe Image `json:"llmServe"`
	// Core is the unified agent server's (lamina-core) image.
	Core Image `json:"core"`
	// Dashboard is the Lamina dashboard's image.
	Dashboard Image `json:"dashboard"`
	// PromoteFrom names a stack on the same cluster and Docker daemon (staging) whose
	// Lamina images this stack runs as they are, read from that stack's images output
	// through a Pulumi StackReference: nothing is built and nothing is pulled. Only
	// content-addressed references are taken (repository:<64-hex image ID> as built,
	// or name@sha256:<digest>); any other reference stops the preview. Empty: the
	// images are built or taken as llmServe, core and dashboard say. Allowed: empty or
	// a stack name other than this one.
	PromoteFrom string `json:"promoteFrom"`
}

// Image is one Lamina image.
type Image struct {
	// Build builds the image from the checkout; false takes reference as it is.
	// Deployments name a built image by a tag made of its image ID, so a changed image
	// rolls out on `pulumi up` and an unchanged one does not.
	Build bool `json:"build"`
	// Context is the build context, relative to checkout. Allowed: a clean relative path
	// inside the checkout ("." for the checkout itself).
	Context string `json:"context"`
	// Dockerfile is the Dockerfile, relative to checkout. Allowed: a clean relative path
	// inside the checkout.
	Dockerfile string `json:"dockerfile"`
	// Reference is the prebuilt image (build false): name:tag or name@sha256:digest.
	// Allowed: an image reference; in production not latest and not without a tag or
	// digest.
	Reference string `json:"reference"`
}

// Container security: every Lamina container runs as this user and group, never as root,
// without privilege escalation and with every capability dropped.
type Security struct {
	// RunAsUser is the container's user ID. Allowed: 1 to 65535 (not root).
	RunAsUser int `json:"runAsUser"`
	// RunAsGroup is the container's group ID, also the pod's fsGroup. Allowed: 1 to
	// 65535 (not root).
	RunAsGroup int `json:"runAsGroup"`
}

// LLMServe is lamina-llm-serve: the platform's LLM server, with the model store on the
// host (data.dir/models) and a catalogue of models.
type LLMServe struct {
	// Replicas is the number of servers; two or more add a PodDisruptionBudget that
	// keeps all but one up. Every replica mounts the same model store. Allowed: 1 to 10.
	Replicas int `json:"replicas"`
	// Resources are each server's requests and limits. The models set to load must fit
	// in the memory limit.
	Resources Resources `json:"resources"`
	// Security is the servers' user and group.
	Security Security `json:"security"`
	// Env is extra environment for the servers. Allowed: names of letters, digits and
	// '_' not starting with a digit.
	Env map[string]string `json:"env"`
	// Accelerator runs the models on none (the VM's CPU cores) or gpu (the Mac's GPU,
	// through krunkit's Vulkan device: lamina:colima.vmType krunkit). With gpu each
	// server requests the GPU device (lamina.io/gpu, from a device plugin), offloads every
	// layer, checks that its image sees a Vulkan device before it starts, and is replaced
	// by stopping the old server first; the models set to load count against the GPU's
	// memory, which krunkit maps from the Mac's memory beside the VM's (61 GiB minus
	// lamina:colima.memoryGiB), instead of lamina:llm.resources.limits.memory. On the
	// Docker target (this stack's own VM: lamina:docker.host empty) the server's container
	// gets the VM's /dev/dri instead, and `pulumi up` waits until it sees Vulkan. The
	// image must carry a Vulkan build of llama.cpp and Mesa's Venus driver. Allowed:
	// none, gpu.
	Accelerator string `json:"accelerator"`
	// DevicePluginImage is the device plugin that advertises the VM's GPU to the
	// kubelet as lamina.io/gpu (with accelerator gpu). Allowed: an image reference with a
	// tag or digest, not latest.
	DevicePluginImage string `json:"devicePluginImage"`
	// Downloads lets the servers fetch models from their download source (HTTPS, port
	// 443, to the internet); without it their network policy allows no egress beyond the
	// cluster, and models are copied into data.dir/models by hand.
	Downloads bool `json:"downloads"`
	// ModelStoreSize is the capacity of the model store volume (data.dir/models on the
	// host). Allowed: a memory quantity from 1Gi to 64Ti, at least the catalogue's total.
	ModelStoreSize string `json:"modelStoreSize"`
	// Models is the catalogue written to the servers' models.yaml, by model name.
	// Allowed: names of lower-case letters, digits, '.', '_' and '-'.
	Models map[string]Model `json:"models"`
	// Defaults maps a use case to the model that serves it. Allowed: models of the
	// catalogue that list the use case.
	Defaults map[string]string `json:"defaults"`
	// Placement chooses the nodes the servers may run on by label and taint (the GPU or
	// large-memory nodes of a cluster), never by a node's name. Empty: any node.
	Placement Placement `json:"placement"`
}

// Placement chooses nodes by label and taint; its fields are documented in package spec.
type (
	Placement  = spec.Placement
	Toleration = spec.Toleration
)

// LLM backends lamina-llm-serve implements.
const BackendLlamaCpp = "llama.cpp"

// Model is one model of the catalogue.
type Model struct {
	// Disabled leaves a model of the profile out of this stack's catalogue.
	Disabled bool `json:"disabled"`
	// Path is the model's file under the model store. Allowed: a clean relative path;
	// with backend llama.cpp a .gguf file.
	Path string `json:"path"`
	// Backend serves the model. Allowed: llama.cpp.
	Backend string `json:"backend"`
	// Quantization names the weights' quantization (Q4_K_M, Q8_0, F16...). Allowed:
	// letters, digits and '_'.
	Quantization string `json:"quantization"`
	// Size is the model's memory when loaded (about its file size). Allowed: a memory
	// quantity from 1Mi to 4Ti.
	Size string `json:"size"`
	// Description says what the model is.
	Description string `json:"description"`
	// UseCases are the tasks the model is meant for. Allowed: lower-case words.
	UseCases []string `json:"useCases"`
	// Download is where lamina-llm-serve fetches the model from.
	Download ModelDownload `json:"download"`
	// Load marks a model every server keeps in memory: the sizes of the models set to
	// load must fit in lamina:llm.resources.limits.memory.
	Load bool `json:"load"`
}

// ModelDownload is a model's source: a Hugging Face repository file or an Ollama model.
type ModelDownload struct {
	// HuggingFace is the repository ID (owner/name). Allowed: with file, not with ollama.
	HuggingFace string `json:"huggingface"`
	// File is the file in the Hugging Face repository.
	File string `json:"file"`
	// Ollama is an Ollama model name (name:tag). Allowed: not with huggingface.
	Ollama string `json:"ollama"`
}

// Chroma is ChromaDB, the agents' vector store, in lamina-system: one StatefulSet with
// its data on the host (data.dir/chromadb), reachable only by the agent server.
type Chroma struct {
	// Image is ChromaDB's image. The 0.6 line is pinned because its server enforces the
	// token (Chroma 1.x's Rust server dropped server-side authentication). Allowed: an
	// image reference; in production not latest and not without a tag or digest.
	Image string `json:"image"`
	// AuthToken is the token clients must send, a Pulumi secret: set it with
	// `pulumi config set --secret --path lamina:chroma.authToken <token>`. Empty
	// generates one once and keeps it in the state. Allowed: 24 to 256 characters, set
	// as a secret.
	AuthToken string `json:"authToken"`
	// StorageSize is the capacity of ChromaDB's volume. Allowed: a memory quantity from
	// 1Gi to 10Ti.
	StorageSize string `json:"storageSize"`
	// Resources are ChromaDB's requests and limits.
	Resources Resources `json:"resources"`
	// Security is ChromaDB's user and group.
	Security Security `json:"security"`
}

// Agent server modes (lamina:core.mode).
const (
	ModeSingleAgent = spec.ModeSingleAgent
	ModeMultiAgent  = spec.ModeMultiAgent
)

// Core is the unified agent server (lamina-core) in lamina-system.
type Core struct {
	// Mode is single-agent (one agent, the first of agents) or multi-agent.
	Mode string `json:"mode"`
	// Agents are the agents the server runs. Allowed: lower-case names, at least one;
	// exactly one in single-agent mode.
	Agents []string `json:"agents"`
	// Replicas is the number of servers. Allowed: 1 to 10.
	Replicas int `json:"replicas"`
	// Resources are each server's requests and limits.
	Resources Resources `json:"resources"`
	// Security is the servers' user and group.
	Security Security `json:"security"`
	// Env is extra environment for the servers. Allowed: names of letters, digits and
	// '_' not starting with a digit, not one the program sets.
	Env map[string]string `json:"env"`
}

// Dashboard is the Lamina dashboard in lamina-dashboard, with read-only access to the
// cluster.
type Dashboard struct {
	// Resources are the dashboard's requests and limits.
	Resources Resources `json:"resources"`
	// Security is the dashboard's user and group.
	Security Security `json:"security"`
	// Env is extra environment for the dashboard. Allowed: names of letters, digits and
	// '_' not starting with a digit, not one the program sets.
	Env map[string]string `json:"env"`
}

// keyedImage is an image with its config key.
type keyedImage struct {
	key string
	im  Image
}

// Builds holds when any image of the stack (a Lamina image, or the build tier's) is
// built from the checkout, and so a Docker daemon is needed.
func (c *Config) Builds() bool {
	for _, i := range c.images() {
		if i.im.Build {
			return true
		}
	}
	return false
}

// images lists the images this stack builds or takes itself, with their config keys:
// the Lamina images unless it promotes another stack's, and the build environment
// with the build tier.
func (c *Config) images() []keyedImage {
	var out []keyedImage
	if c.Images.PromoteFrom == "" {
		im := c.Images
		out = append(out, keyedImage{"lamina:images.llmServe", im.LLMServe}, keyedImage{"lamina:images.core", im.Core}, keyedImage{"lamina:images.dashboard", im.Dashboard})
	}
	if c.Build.Enabled && !c.Shared() {
		out = append(out, keyedImage{"lamina:build.image", c.Build.Image})
	}
	return out
}

// StopsBeforeStart says a rollout stops a server before its replacement starts, even
// with one replica: on the GPU, two servers' models would not fit side by side.
func (l LLMServe) StopsBeforeStart() bool { return l.Accelerator == AcceleratorGPU }
