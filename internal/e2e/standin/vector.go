package main

// Vector 0.56.0, the image timberio/vector:0.56.0-distroless-libc: vectordotdev/vector at
// tag v0.56.0 (6817c0218e1a). The image (distribution/docker/distroless-libc/Dockerfile
// L18-35) is distroless, runs as root in /, ENTRYPOINT /usr/bin/vector and no CMD, and
// ships no /etc/vector/vector.yaml (scripts/verify-install.sh L29).
//
// Reproduced: the configuration from --config/-c (or VECTOR_CONFIG), else the default
// /etc/vector/vector.yaml, whose absence stops Vector with exitcode::CONFIG, 78
// (src/config/loading/mod.rs L44-60, L347-366; src/app.rs L566-586); the interpolation
// of $VAR and ${VAR[:-|-|:?|?]...} with its errors (src/config/vars.rs L12-80); the
// docker_logs source (src/sources/docker_logs/mod.rs): docker_host, else DOCKER_HOST,
// else unix:///var/run/docker.sock (src/docker.rs L46-86); the running containers listed
// with include_labels as a label filter at start (L531-575), a failure there logged
// ("Listing currently running containers failed.") and the source ended, so that Vector
// stops with exit 0 once all sources have finished (L258-268; src/app.rs L334-338,
// L494-510); its own container excluded by hostname (L716-720); each container's logs
// followed with stdout, stderr and timestamps from Vector's start (L788-800, L1018-1025,
// L1073-1081); the events' legacy fields (message, container_id, container_name,
// container_created_at, image, label.<key>, stream, timestamp, host, source_type); no use
// of data_dir (nothing in src/sources/docker_logs/ reads it); the loki sink
// (src/sinks/loki/): its healthcheck GET <endpoint>/ready at start, a failure only logged
// (healthcheck.rs), pushes to <endpoint>/loki/api/v1/push (config.rs L16-18) in batches
// of up to a second (config.rs L157-161), labels rendered from templates such as
// {{ label."lamina.io/service" }}, a label whose template fails to render left out
// (sink.rs L140-175), {agent="vector"} when no label is left (sink.rs L330-334), the
// timestamp removed from the line (remove_timestamp, default true, config.rs L86-90),
// tenant_id as X-Scope-OrgID; the API's GET /health when api.enabled (src/config/api.rs
// L40-49, src/api/grpc_server.rs L151-177).
//
// Not shown: every other source, transform and sink (refused with exit 78); protobuf and
// snappy (compression's default: the stand-in always pushes JSON, as Vector does with
// compression none); Docker's events stream (the stand-in lists the containers every 2 s
// instead, and follows a container again when it runs again); partial-message merging;
// buffers, acknowledgements, retries beyond an in-memory queue; TOML configurations.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"
)

// exitConfig is exitcode::CONFIG.
const exitConfig = 78

// vlog is Vector's default (text) log line, on stderr.
func vlog(level, target, msg string, kv ...any) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %5s %s: %s", time.Now().UTC().Format("2006-01-02T15:04:05.000000Z"), level, target, msg)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%v", kv[i], kv[i+1])
	}
	fmt.Fprintln(os.Stderr, b.String())
}

var vectorInterpolation = regexp.MustCompile(`\$\$|\$([[:word:].]+)|\$\{([[:word:].]+)(?:(:?-|:?\?)([^}]*))?\}`)

// interpolate is src/config/vars.rs interpolate.
func interpolate(input string) (string, []string) {
	var errs []string
	out := vectorInterpolation.ReplaceAllStringFunc(input, func(match string) string {
		m := vectorInterpolation.FindStringSubmatch(match)
		name := m[1]
		if name == "" {
			name = m[2]
		}
		if name == "" {
			return "$" // $$
		}
		val, ok := os.LookupEnv(name)
		if ok && strings.ContainsAny(val, "\n\r") {
			errs = append(errs, fmt.Sprintf("Environment variable contains newline character. name = %q", name))
			ok, val = false, ""
		}
		switch m[3] {
		case ":-":
			if ok && val != "" {
				return val
			}
			return m[4]
		case "-":
			if ok {
				return val
			}
			return m[4]
		case ":?":
			if ok && val != "" {
				return val
			}
			errs = append(errs, fmt.Sprintf("Non-empty environment variable required in config. name = %q, error = %q", name, m[4]))
			return ""
		case "?":
			if ok {
				return val
			}
			errs = append(errs, fmt.Sprintf("Missing environment variable required in config. name = %q, error = %q", name, m[4]))
			return ""
		}
		if !ok {
			errs = append(errs, fmt.Sprintf("Missing environment variable in config. name = %q", name))
		}
		return val
	})
	return out, errs
}

// vectorConfig is the part of Vector's configuration the stand-in runs.
type vectorConfig struct {
	DataDir string `json:"data_dir"`
	API     struct {
		Enabled bool   `json:"enabled"`
		Address string `json:"address"`
	} `json:"api"`
	Sources    map[string]map[string]any `json:"sources"`
	Transforms map[string]map[string]any `json:"transforms"`
	Sinks      map[string]map[string]any `json:"sinks"`
}

// vectorConfigError ends Vector as handle_config_errors does: the errors, exit 78.
func vectorConfigError(errs ...string) int {
	for _, e := range errs {
		vlog("ERROR", "vector::cli", "Configuration error.", "error", e)
	}
	return exitConfig
}

func vector(args []string) int {
	var paths []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--config" || a == "-c" || a == "--config-yaml" || a == "--config-json":
			if i+1 >= len(args) {
				fmt.Fprintf(os.Stderr, "error: a value is required for '%s <CONFIG>' but none was supplied\n", a)
				return 2 // clap's usage error
			}
			i++
			paths = append(paths, strings.Split(args[i], ",")...)
		case strings.HasPrefix(a, "--config=") || strings.HasPrefix(a, "-c="):
			_, v, _ := strings.Cut(a, "=")
			paths = append(paths, strings.Split(v, ",")...)
		case a == "--config-toml" || a == "--config-dir" || a == "-C" || a == "-t":
			fmt.Fprintf(os.Stderr, "standin: %s is not reproduced\n", a)
			return exitConfig
		case a == "--version" || a == "-V":
			fmt.Println("vector 0.56.0 (stand-in)")
			return 0
		case a == "--require-healthy" || a == "-r" || a == "--quiet" || a == "-q" || a == "--verbose" || a == "-v" || a == "--watch-config" || a == "-w":
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(os.Stderr, "error: unexpected argument '%s' found\n", a)
			return 2
		default:
			fmt.Fprintf(os.Stderr, "standin: the %s subcommand is not reproduced\n", a)
			return 2
		}
	}
	if len(paths) == 0 {
		if v := os.Getenv("VECTOR_CONFIG"); v != "" {
			paths = strings.Split(v, ",")
		} else {
			paths = []string{"/etc/vector/vector.yaml"}
		}
	}
	vlog("INFO", "vector::app", "Log level is enabled.", "level", "info")
	vlog("INFO", "vector::app", "Loading configs.", "paths", fmt.Sprintf("%q", paths))
	var cfg vectorConfig
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			vlog("ERROR", "vector::config::loading", "Config file not found in path.", "path", strconv.Quote(p))
			return exitConfig
		}
		if err != nil {
			vlog("ERROR", "vector::config::loading", "Error opening config file.", "error", err, "path", strconv.Quote(p))
			return exitConfig
		}
		if strings.HasSuffix(p, ".toml") {
			fmt.Fprintln(os.Stderr, "standin: TOML configurations are not reproduced")
			return exitConfig
		}
		text, errs := interpolate(string(data))
		if len(errs) > 0 {
			return vectorConfigError(errs...)
		}
		var part vectorConfig
		if err := yaml.Unmarshal([]byte(text), &part); err != nil {
			return vectorConfigError(err.Error())
		}
		cfg = mergeVector(cfg, part)
	}
	return runVector(cfg)
}

func mergeVector(a, b vectorConfig) vectorConfig {
	merge := func(x, y map[string]map[string]any) map[string]map[string]any {
		if x == nil {
			x = map[string]map[string]any{}
		}
		for k, v := range y {
			x[k] = v
		}
		return x
	}
	a.Sources, a.Transforms, a.Sinks = merge(a.Sources, b.Sources), merge(a.Transforms, b.Transforms), merge(a.Sinks, b.Sinks)
	if b.DataDir != "" {
		a.DataDir = b.DataDir
	}
	if b.API.Enabled {
		a.API = b.API
	}
	return a
}

// dockerSource is a docker_logs source.
type dockerSource struct {
	name          string
	client        *http.Client
	base          string // http://docker (over the socket) or http://host:port
	includeLabels []string
}

// lokiSink is a loki sink.
type lokiSink struct {
	name, endpoint, codec, tenant string
	labels                        map[string]string
	inputs                        []string
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// dockerClient is bollard's connection: a unix socket (unix://path, or a bare path) or
// HTTP (tcp:// or http://) (src/docker.rs L46-86).
func dockerClient(host string) (*http.Client, string, error) {
	u, err := url.Parse(host)
	if err == nil && (u.Scheme == "tcp" || u.Scheme == "http") {
		return &http.Client{}, "http://" + u.Host, nil
	}
	if err == nil && u.Scheme != "" && u.Scheme != "unix" {
		return nil, "", fmt.Errorf("Unknown scheme: %s", u.Scheme)
	}
	path := strings.TrimPrefix(host, "unix://")
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}, "http://docker", nil
}

func runVector(cfg vectorConfig) int {
	if len(cfg.Transforms) > 0 {
		return vectorConfigError("standin: transforms are not reproduced")
	}
	if len(cfg.Sources) == 0 {
		return vectorConfigError("No sources defined in the config.")
	}
	if len(cfg.Sinks) == 0 {
		return vectorConfigError("No sinks defined in the config.")
	}
	var sources []*dockerSource
	for _, name := range sortedKeys(cfg.Sources) {
		s := cfg.Sources[name]
		if str(s["type"]) != "docker_logs" {
			return vectorConfigError(fmt.Sprintf("standin: source %q of type %q is not reproduced (only docker_logs)", name, str(s["type"])))
		}
		host := str(s["docker_host"])
		if host == "" {
			host = os.Getenv("DOCKER_HOST")
		}
		if host == "" {
			host = "unix:///var/run/docker.sock"
		}
		client, base, err := dockerClient(host)
		if err != nil {
			return vectorConfigError(fmt.Sprintf("Source %q: %v", name, err))
		}
		sources = append(sources, &dockerSource{name: name, client: client, base: base, includeLabels: strs(s["include_labels"])})
	}
	var sinks []*lokiSink
	for _, name := range sortedKeys(cfg.Sinks) {
		s := cfg.Sinks[name]
		if str(s["type"]) != "loki" {
			return vectorConfigError(fmt.Sprintf("standin: sink %q of type %q is not reproduced (only loki)", name, str(s["type"])))
		}
		sink := &lokiSink{name: name, endpoint: str(s["endpoint"]), tenant: str(s["tenant_id"]), inputs: strs(s["inputs"]), labels: map[string]string{}}
		if sink.endpoint == "" {
			return vectorConfigError(fmt.Sprintf("Sink %q: missing field `endpoint`", name))
		}
		enc, ok := s["encoding"].(map[string]any)
		if !ok {
			return vectorConfigError(fmt.Sprintf("Sink %q: missing field `encoding`", name))
		}
		sink.codec = str(enc["codec"])
		if sink.codec != "json" && sink.codec != "text" {
			return vectorConfigError(fmt.Sprintf("standin: codec %q is not reproduced (json, text)", sink.codec))
		}
		if labels, ok := s["labels"].(map[string]any); ok {
			for k, v := range labels {
				sink.labels[k] = fmt.Sprint(v)
			}
		}
		for _, in := range sink.inputs {
			if _, ok := cfg.Sources[in]; !ok {
				return vectorConfigError(fmt.Sprintf("Input %q for sink %q doesn't match any components.", in, name))
			}
		}
		if c := str(s["compression"]); c == "" || c == "snappy" {
			vlog("WARN", "standin", "compression snappy (protobuf) is not reproduced: pushing JSON, as with compression none", "sink", name)
		}
		sinks = append(sinks, sink)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if cfg.API.Enabled {
		addr := cfg.API.Address
		if addr == "" {
			addr = "127.0.0.1:8686"
		}
		go http.ListenAndServe(addr, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(`{"ok":true}`))
				return
			}
			http.NotFound(w, r)
		}))
		vlog("INFO", "vector::internal_events::api", "API server running.", "address", addr)
	}
	// Healthchecks run at start; a failure is logged (fatal only with --require-healthy,
	// which the stand-in ignores).
	for _, sink := range sinks {
		go func(sink *lokiSink) {
			if err := sink.healthcheck(); err != nil {
				vlog("ERROR", "vector::topology::builder", "Healthcheck failed.", "error", err, "component_kind", "sink", "component_type", "loki", "component_id", sink.name)
				return
			}
			vlog("INFO", "vector::topology::builder", "Healthcheck passed.", "component_id", sink.name)
		}(sink)
	}
	events := map[string]chan map[string]any{}
	for _, s := range sources {
		events[s.name] = make(chan map[string]any, 1000)
	}
	var sinkWG sync.WaitGroup
	for _, sink := range sinks {
		var ins []chan map[string]any
		for _, in := range sink.inputs {
			ins = append(ins, events[in])
		}
		sinkWG.Add(1)
		go func() { defer sinkWG.Done(); sink.run(ctx, ins) }()
	}
	vlog("INFO", "vector", "Vector has started.", "version", `"0.56.0"`, "arch", `"x86_64"`)
	start := time.Now()
	host, _ := os.Hostname()
	finished := make(chan struct{}, len(sources))
	for _, s := range sources {
		go func(s *dockerSource) {
			s.run(ctx, start, host, events[s.name])
			finished <- struct{}{}
		}(s)
	}
	sig := stopped()
	done := 0
	for done < len(sources) {
		select {
		case <-sig:
			vlog("INFO", "vector", "Vector has stopped.")
			cancel()
			waitTimeout(&sinkWG, 3*time.Second)
			return 0
		case <-finished:
			done++
		}
	}
	vlog("INFO", "vector::app", "All sources have finished.")
	vlog("INFO", "vector", "Vector has stopped.")
	cancel()
	waitTimeout(&sinkWG, 3*time.Second)
	return 0
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	c := make(chan struct{})
	go func() { wg.Wait(); close(c) }()
	select {
	case <-c:
	case <-time.After(d):
	}
}

// dockerContainerSummary is an entry of GET /containers/json.
type dockerContainerSummary struct {
	ID     string   `json:"Id"`
	Names  []string `json:"Names"`
	Image  string   `json:"Image"`
	Labels map[string]string
}

func (s *dockerSource) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/v1.44"+path, nil)
	if err != nil {
		return err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("Docker responded with status code %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return json.Unmarshal(body, out)
}

func (s *dockerSource) list(ctx context.Context) ([]dockerContainerSummary, error) {
	q := url.Values{"all": {"false"}}
	if len(s.includeLabels) > 0 {
		f, _ := json.Marshal(map[string][]string{"label": s.includeLabels})
		q.Set("filters", string(f))
	}
	var list []dockerContainerSummary
	return list, s.get(ctx, "/containers/json?"+q.Encode(), &list)
}

// run is the docker_logs source: the running containers at start, then (standing in for
// Docker's events) the list again every 2 s, each container's logs followed.
func (s *dockerSource) run(ctx context.Context, start time.Time, hostname string, out chan<- map[string]any) {
	list, err := s.list(ctx)
	if err != nil {
		vlog("ERROR", "vector::sources::docker_logs", "Listing currently running containers failed.", "error", err)
		return
	}
	vlog("INFO", "vector::sources::docker_logs", "Listening to docker log events.")
	var mu sync.Mutex
	following := map[string]bool{}
	last := map[string]time.Time{}
	follow := func(c dockerContainerSummary) {
		if hostname != "" && len(hostname) >= 6 && strings.HasPrefix(c.ID, hostname) {
			return // exclude_self
		}
		mu.Lock()
		if following[c.ID] {
			mu.Unlock()
			return
		}
		following[c.ID] = true
		since := last[c.ID]
		mu.Unlock()
		if since.IsZero() {
			since = start
		}
		vlog("INFO", "vector::internal_events::docker_logs", "Started watching for container logs.", "container_id", c.ID)
		go func() {
			end := s.follow(ctx, c.ID, start, since, hostname, out)
			mu.Lock()
			following[c.ID] = false
			if end.After(last[c.ID]) {
				last[c.ID] = end
			}
			mu.Unlock()
			vlog("INFO", "vector::internal_events::docker_logs", "Stopped watching for container logs.", "container_id", c.ID)
		}()
	}
	for _, c := range list {
		follow(c)
	}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			list, err := s.list(ctx)
			if err != nil {
				if ctx.Err() == nil {
					vlog("ERROR", "vector::internal_events::docker_logs", "Error in communication with Docker daemon.", "error", err)
				}
				continue
			}
			for _, c := range list {
				follow(c)
			}
		}
	}
}

// follow reads one container's logs until they end, and returns the last line's time.
func (s *dockerSource) follow(ctx context.Context, id string, created, since time.Time, hostname string, out chan<- map[string]any) time.Time {
	var inspect struct {
		ID      string `json:"Id"`
		Name    string
		Created string
		Config  struct {
			Image  string
			Labels map[string]string
			Tty    bool
		}
	}
	if err := s.get(ctx, "/containers/"+id+"/json", &inspect); err != nil {
		vlog("ERROR", "vector::internal_events::docker_logs", "Failed to inspect container.", "container_id", id, "error", err)
		return since
	}
	q := url.Values{"follow": {"1"}, "stdout": {"1"}, "stderr": {"1"}, "timestamps": {"1"},
		"since": {strconv.FormatInt(since.Unix()-1, 10)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/v1.44/containers/"+id+"/logs?"+q.Encode(), nil)
	if err != nil {
		return since
	}
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			vlog("ERROR", "vector::internal_events::docker_logs", "Error in communication with Docker daemon.", "error", err, "container_id", id)
		}
		return since
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return since
	}
	labels := map[string]any{}
	for k, v := range inspect.Config.Labels {
		labels[k] = v
	}
	lastSeen := since
	emit := func(stream, line string) {
		ts, msg, ok := strings.Cut(line, " ")
		t, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil {
			t, msg = time.Now(), line
		}
		// Logs from before the source's start, or already sent, are dropped (L1073-1081).
		if t.Before(created) || !t.After(since) && !since.Equal(created) {
			return
		}
		if t.After(lastSeen) {
			lastSeen = t
		}
		ev := map[string]any{
			"message": msg, "container_id": inspect.ID, "container_name": strings.TrimPrefix(inspect.Name, "/"),
			"container_created_at": inspect.Created, "image": inspect.Config.Image, "label": labels,
			"stream": stream, "timestamp": t.UTC().Format(time.RFC3339Nano), "host": hostname, "source_type": "docker_logs",
		}
		select {
		case out <- ev:
		case <-ctx.Done():
		}
	}
	readLogStream(resp.Body, inspect.Config.Tty, emit)
	return lastSeen
}

// readLogStream splits Docker's log stream into lines: multiplexed frames (an 8-byte
// header: stream 1 or 2, three zero bytes, the big-endian length) unless the container has
// a TTY, whose stream is raw.
func readLogStream(r io.Reader, tty bool, emit func(stream, line string)) {
	br := bufio.NewReader(r)
	if tty {
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				emit("stdout", strings.TrimRight(line, "\r\n"))
			}
			if err != nil {
				return
			}
		}
	}
	partial := map[byte]string{}
	var header [8]byte
	for {
		if _, err := io.ReadFull(br, header[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(header[4:])
		payload := make([]byte, n)
		if _, err := io.ReadFull(br, payload); err != nil {
			return
		}
		stream := "stdout"
		if header[0] == 2 {
			stream = "stderr"
		}
		text := partial[header[0]] + string(payload)
		for {
			i := strings.IndexByte(text, '\n')
			if i < 0 {
				break
			}
			emit(stream, strings.TrimRight(text[:i], "\r"))
			text = text[i+1:]
		}
		partial[header[0]] = text
	}
}

func (k *lokiSink) healthcheck() error {
	status := func(path string) (int, error) {
		resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(strings.TrimSuffix(k.endpoint, "/") + path)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	code, err := status("/ready")
	if err == nil && code == http.StatusNotFound {
		code, err = status("/")
	}
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("A non-successful status returned: %d %s", code, http.StatusText(code))
	}
	return nil
}

var templateField = regexp.MustCompile(`\{\{\s*(.*?)\s*\}\}`)

// lookupPath finds a path such as label."lamina.io/service" in an event.
func lookupPath(ev map[string]any, path string) (string, bool) {
	var segs []string
	for path != "" {
		if path[0] == '"' {
			end := strings.IndexByte(path[1:], '"')
			if end < 0 {
				return "", false
			}
			segs = append(segs, path[1:end+1])
			path = strings.TrimPrefix(path[end+2:], ".")
			continue
		}
		seg, rest, _ := strings.Cut(path, ".")
		segs, path = append(segs, seg), rest
	}
	var cur any = ev
	for _, s := range segs {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		if cur, ok = m[s]; !ok {
			return "", false
		}
	}
	if cur == nil {
		return "", false
	}
	return fmt.Sprint(cur), true
}

// render renders a template's {{ path }} fields, or fails naming the missing one.
func render(tmpl string, ev map[string]any) (string, error) {
	var missing []string
	out := templateField.ReplaceAllStringFunc(tmpl, func(m string) string {
		path := templateField.FindStringSubmatch(m)[1]
		v, ok := lookupPath(ev, path)
		if !ok {
			missing = append(missing, path)
		}
		return v
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("Missing fields on event: %q", missing)
	}
	return out, nil
}

// run batches the inputs' events for up to a second and pushes them, keeping a failed
// batch (an error or a 5xx answer) to try again, and dropping one Loki refuses (4xx).
func (k *lokiSink) run(ctx context.Context, ins []chan map[string]any) {
	merged := make(chan map[string]any, 1000)
	for _, in := range ins {
		go func(in chan map[string]any) {
			for {
				select {
				case ev := <-in:
					select {
					case merged <- ev:
					case <-ctx.Done():
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}(in)
	}
	var pending []map[string]any
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case ev := <-merged:
			pending = append(pending, ev)
			if len(pending) >= 100_000 {
				pending = k.flush(pending)
			}
		case <-tick.C:
			if len(pending) > 0 {
				pending = k.flush(pending)
			}
			if len(pending) > 100_000 {
				pending = pending[len(pending)-100_000:]
			}
		case <-ctx.Done():
			for {
				select {
				case ev := <-merged:
					pending = append(pending, ev)
					continue
				default:
				}
				break
			}
			if len(pending) > 0 {
				k.flush(pending)
			}
			return
		}
	}
}

// flush pushes events and returns those to try again.
func (k *lokiSink) flush(events []map[string]any) []map[string]any {
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	byKey := map[string]*stream{}
	var streams []*stream
	for _, ev := range events {
		labels := map[string]string{}
		for key, tmpl := range k.labels {
			v, err := render(tmpl, ev)
			if err != nil {
				vlog("ERROR", "vector::internal_events::template", "Failed to render template.", "error", err,
					"field", fmt.Sprintf("%q", "label_value \""+tmpl+"\" with label_key \""+key+"\""), "drop_event", false)
				continue
			}
			labels[key] = v
		}
		if len(labels) == 0 {
			labels["agent"] = "vector"
		}
		t, _ := time.Parse(time.RFC3339Nano, str(ev["timestamp"]))
		line := str(ev["message"])
		if k.codec == "json" {
			body := map[string]any{}
			for key, v := range ev {
				if key != "timestamp" { // remove_timestamp
					body[key] = v
				}
			}
			b, _ := json.Marshal(body)
			line = string(b)
		}
		key := fmt.Sprint(sortedPairs(labels))
		st := byKey[key]
		if st == nil {
			st = &stream{Stream: labels}
			byKey[key] = st
			streams = append(streams, st)
		}
		st.Values = append(st.Values, [2]string{strconv.FormatInt(t.UnixNano(), 10), line})
	}
	for _, st := range streams {
		sort.SliceStable(st.Values, func(i, j int) bool { return st.Values[i][0] < st.Values[j][0] })
	}
	body, _ := json.Marshal(map[string]any{"streams": streams})
	req, _ := http.NewRequest(http.MethodPost, strings.TrimSuffix(k.endpoint, "/")+"/loki/api/v1/push", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if k.tenant != "" {
		req.Header.Set("X-Scope-OrgID", k.tenant)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		vlog("WARN", "vector::sinks::util::retries", "Retrying after error.", "error", err, "component_id", k.name)
		return events
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		vlog("WARN", "vector::sinks::util::retries", "Retrying after response.", "status", resp.StatusCode, "component_id", k.name)
		return events
	case resp.StatusCode >= 300:
		vlog("ERROR", "vector::sinks::util::retries", "Not retriable; dropping the request.", "status", resp.StatusCode,
			"reason", strconv.Quote(strings.TrimSpace(string(msg))), "component_id", k.name)
	}
	return nil
}
