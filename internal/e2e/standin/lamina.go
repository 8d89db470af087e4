package main

// Lamina's own images: ghcr.io/lamina-os/lamina-llm-serve, -core and -dashboard. No
// upstream source of them is available here (their Dockerfiles live in the Lamina OS
// checkout, ~/src/lamina-os/packages/*), so these stand-ins do what the program expects
// of them, as its own constants say (components/llmserve/llmserve.go,
// components/core/core.go, components/dashboard/dashboard.go, stacks/docker.go), and
// nothing they would really do beyond that: they run no model and no agent.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// The Lamina images' modules, as python -m runs them: core's is the program's
// (components/core/core.go Command); the dashboard's is this stand-in's assumption.
const (
	coreModule      = "lamina.api.unified_server"
	dashboardModule = "lamina_dashboard"
)

// llmServe is lamina-llm-serve: --host, --port (8000; llmserve.Port, "the image's CMD"),
// --models-dir (/app/models) and --manifest (/app/models.yaml), the defaults the program
// relies on (llmserve.ModelsDir, llmserve.Manifest).
func llmServe(args []string) int {
	host, port := "0.0.0.0", "8000"
	modelsDir, manifest := "/app/models", "/app/models.yaml"
	if v, ok := flagValue(args, "host"); ok {
		host = v
	}
	if v, ok := flagValue(args, "port"); ok {
		port = v
	}
	if v, ok := flagValue(args, "models-dir"); ok {
		modelsDir = v
	}
	if v, ok := flagValue(args, "manifest"); ok {
		manifest = v
	}
	data, err := os.ReadFile(manifest)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lamina-llm-serve: cannot read the model manifest: %v\n", err)
		return 1
	}
	var catalogue struct {
		Models   map[string]map[string]any `json:"models"`
		Backends map[string]map[string]any `json:"backends"`
		Defaults map[string]string         `json:"defaults"`
	}
	if err := yaml.Unmarshal(data, &catalogue); err != nil {
		fmt.Fprintf(os.Stderr, "lamina-llm-serve: %s is not a model manifest: %v\n", manifest, err)
		return 1
	}
	if catalogue.Models == nil {
		fmt.Fprintf(os.Stderr, "lamina-llm-serve: %s has no models\n", manifest)
		return 1
	}
	// The models directory is the download cache: written at start.
	marker := filepath.Join(modelsDir, ".lamina-llm-serve")
	if err := os.WriteFile(marker, []byte("models cache of lamina-llm-serve (stand-in), "+time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "lamina-llm-serve: the models directory is not writable: %v\n", err)
		return 1
	}
	names := sortedKeys(catalogue.Models)
	logf("lamina-llm-serve: %d models in %s (%s), cache %s", len(names), manifest, strings.Join(names, ", "), modelsDir)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"status": "healthy", "models": len(names)})
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		var data []map[string]any
		for _, n := range names {
			data = append(data, map[string]any{"id": n, "object": "model", "owned_by": "lamina"})
		}
		writeJSON(w, 200, map[string]any{"object": "list", "data": data})
	})
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model  string `json:"model"`
			Stream bool   `json:"stream"`
		}
		body, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(body, &req); err != nil {
			writeJSON(w, 400, map[string]string{"error": "invalid JSON: " + err.Error()})
			return
		}
		if req.Model == "" && len(names) > 0 {
			req.Model = names[0]
		}
		const answer = "Hello from the lamina-llm-serve stand-in."
		if !req.Stream {
			writeJSON(w, 200, map[string]any{
				"id": "chatcmpl-standin", "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "finish_reason": "stop",
					"message": map[string]string{"role": "assistant", "content": answer}}},
			})
			return
		}
		// Server-sent events, a chunk at a time (what the proxy must not buffer).
		w.Header().Set("Content-Type", "text/event-stream")
		flusher, _ := w.(http.Flusher)
		for _, word := range strings.SplitAfter(answer, " ") {
			chunk, _ := json.Marshal(map[string]any{"id": "chatcmpl-standin", "object": "chat.completion.chunk", "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "delta": map[string]string{"content": word}}}})
			fmt.Fprintf(w, "data: %s\n\n", chunk)
			if flusher != nil {
				flusher.Flush()
			}
			time.Sleep(100 * time.Millisecond)
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	return serve(host+":"+port, logged(mux, accessLog("lamina-llm-serve")), func(err error) {
		fmt.Fprintf(os.Stderr, "lamina-llm-serve: %v\n", err)
	}, func() { logf("lamina-llm-serve: listening on %s:%s", host, port) })
}

// llamaServer is llama.cpp's server binary as the program's Vulkan check runs it
// (llmserve.VulkanCheck): this machine has no GPU, so it lists no device, as a build with
// dynamically loaded backends does with none (llama.cpp b7993: the list on stdout,
// common/arg.cpp L2239-2257; the loader's line on stderr even without a device,
// ggml/src/ggml-backend-reg.cpp L233, ggml-vulkan.cpp L5567-5571).
func llamaServer(args []string) int {
	for _, a := range args {
		if a == "--list-devices" {
			fmt.Fprintln(os.Stderr, "ggml_vulkan: No devices found.")
			fmt.Fprintln(os.Stderr, "load_backend: loaded Vulkan backend from /app/libggml-vulkan.so")
			fmt.Println("Available devices:")
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, "standin: llama-server runs no model here; only --list-devices is stood in for")
	return 1
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func accessLog(name string) func(r *http.Request, status int) {
	return func(r *http.Request, status int) {
		logf("%s: %s - %q %d", name, r.RemoteAddr, r.Method+" "+r.URL.RequestURI()+" "+r.Proto, status)
	}
}

// agents is LAMINA_AGENTS, comma-separated.
func agents() []string {
	var out []string
	for _, a := range strings.Split(os.Getenv("LAMINA_AGENTS"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// core is lamina-core's unified server: --host, --port (core.Args), and the environment
// stacks/docker.go gives it: SERVER_MODE, AGENT_NAME, LAMINA_AGENTS, LAMINA_LLM_URL,
// CHROMA_HOST, CHROMA_PORT. It holds no ChromaDB token: its proxy adds it.
func core(args []string) int {
	host, port := "0.0.0.0", "8080"
	if v, ok := flagValue(args, "host"); ok {
		host = v
	}
	if v, ok := flagValue(args, "port"); ok {
		port = v
	}
	mode := os.Getenv("SERVER_MODE")
	agent, _ := flagValue(args, "agent")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"status": "healthy", "mode": mode, "agents": agents()})
	})
	mux.HandleFunc("GET /api/agents", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"mode": mode, "agent": agent, "agents": agents()})
	})
	// /api/check calls what core calls, through its proxy: lamina-llm-serve's health and
	// ChromaDB's collections (which need the token only the proxy adds).
	mux.HandleFunc("GET /api/check", func(w http.ResponseWriter, r *http.Request) {
		chroma := "http://" + os.Getenv("CHROMA_HOST") + ":" + os.Getenv("CHROMA_PORT") + "/api/v1/collections"
		writeJSON(w, 200, map[string]any{
			"llm":      call(http.MethodGet, strings.TrimSuffix(os.Getenv("LAMINA_LLM_URL"), "/")+"/health", nil),
			"chromadb": call(http.MethodGet, chroma, nil),
		})
	})
	// /api/chat relays a chat completion to lamina-llm-serve, streaming or not.
	mux.HandleFunc("POST /api/chat", func(w http.ResponseWriter, r *http.Request) {
		relay(w, r, http.MethodPost, strings.TrimSuffix(os.Getenv("LAMINA_LLM_URL"), "/")+"/v1/chat/completions")
	})
	return serve(host+":"+port, logged(mux, accessLog("lamina-core")), func(err error) {
		fmt.Fprintf(os.Stderr, "lamina-core: %v\n", err)
	}, func() { logf("lamina-core: %s mode, agents %v, listening on %s:%s", mode, agents(), host, port) })
}

// call makes one request and says what came back.
func call(method, target string, body io.Reader) map[string]any {
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		return map[string]any{"url": target, "error": err.Error()}
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return map[string]any{"url": target, "error": err.Error()}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return map[string]any{"url": target, "status": resp.StatusCode, "body": string(data)}
}

// relay forwards r to target and copies the answer back as it arrives.
func relay(w http.ResponseWriter, r *http.Request, method, target string) {
	req, err := http.NewRequestWithContext(r.Context(), method, target, r.Body)
	if err != nil {
		writeJSON(w, 500, map[string]string{"error": err.Error()})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		writeJSON(w, 502, map[string]string{"error": err.Error(), "url": target})
		return
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(resp.StatusCode)
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			w.Write(buf[:n])
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err != nil {
			return
		}
	}
}

// dashboard is lamina-dashboard on 5001 (dashboard.Port): / is its page (its health path,
// dashboard.HealthPath), /api/agents what LAMINA_API_URL's /api/agents answers.
func dashboard(args []string) int {
	port := "5001"
	if v, ok := flagValue(args, "port"); ok {
		port = v
	} else if v := os.Getenv("PORT"); v != "" {
		port = v
	}
	if _, err := strconv.Atoi(port); err != nil {
		fmt.Fprintf(os.Stderr, "lamina-dashboard: invalid port %q\n", port)
		return 2
	}
	api := strings.TrimSuffix(os.Getenv("LAMINA_API_URL"), "/")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, "<!DOCTYPE html>\n<html><head><title>Lamina dashboard</title></head><body><h1>Lamina dashboard</h1><p>API: %s</p></body></html>\n", api)
	})
	mux.HandleFunc("GET /api/agents", func(w http.ResponseWriter, r *http.Request) {
		relay(w, r, http.MethodGet, api+"/api/agents")
	})
	return serve("0.0.0.0:"+port, logged(mux, accessLog("lamina-dashboard")), func(err error) {
		fmt.Fprintf(os.Stderr, "lamina-dashboard: %v\n", err)
	}, func() { logf("lamina-dashboard: listening on 0.0.0.0:%s, API %s", port, api) })
}
