package main

// Loki 3.7.6, the image grafana/loki:3.7.6: grafana/loki at tag v3.7.6 (5003600d7c78).
// The image (cmd/loki/Dockerfile L20-32) is distroless, user 10001, WORKDIR /, ENTRYPOINT
// /usr/bin/loki, CMD -config.file=/etc/loki/local-config.yaml, with /etc/loki and /loki
// (rules, rules-temp) owned by 10001.
//
// Reproduced: the built-in probe `-health [-health.url=URL]` that runs before any
// configuration (cmd/loki/main.go L49-53, cmd/loki/health.go L11-72); -config.file, a
// comma-separated list of which the first existing file is used, read strictly (an
// unknown top-level key fails), with -config.expand-env (pkg/util/cfg/files.go L42-78,
// L80-121; pkg/loki/config_wrapper.go L59-60); the directories derived from
// common.path_prefix (config_wrapper.go L483-501, L724-736) and made at start, each
// failure ending start-up with the directory named: the filesystem object store's
// chunks directory, the TSDB shipper's active index and cache directories
// (pkg/storage/chunk/client/util/util.go L67-79 EnsureDirectory, mode 0777), the WAL
// (pkg/ingester/ingester.go L345-354, mode 0750; flag default `wal`, relative to the
// working directory /, pkg/ingester/wal.go L51), the compactor's working directory (flag
// default /var/loki/compactor, pkg/compactor/config.go L50; compactor.go L211) and its
// delete_requests directory (deletion/delete_requests_store.go L21); retention needing
// compactor.delete_request_store (config.go L107-110) and writing its marker files in
// os.TempDir() (pkg/compactor/retention/marker.go L60-62; a failure there fails a
// retention run, not the start); auth_enabled, default true (pkg/loki/loki.go L159), and
// so X-Scope-OrgID; GET /ready, 503 until the ingester has been ready for
// ingester.lifecycler.min_ready_duration, default 15s, then 200 "ready"
// (pkg/loki/loki.go L682-746; vendor/github.com/grafana/dskit/ring/lifecycler.go L88,
// L255-280); POST /loki/api/v1/push with a JSON body, gzip allowed, 204 on success
// (pkg/loghttp/push/push.go L335-369; pkg/distributor/http.go L108, L158); and the
// query API a test reads back with: /loki/api/v1/labels, /loki/api/v1/label/<name>/values
// and /loki/api/v1/query_range with a stream selector and line filters.
//
// Not shown: protobuf+snappy pushes (what Vector sends by default: the stand-in answers
// 415), LogQL beyond selectors and line filters, the ring and memberlist, gRPC on 9095,
// chunk and index files (the entries go, as JSON lines, to standin-streams.jsonl in the
// chunks directory, and are read back from there after a restart), the ruler (which
// makes rule_path's tenant directories only when it has rules, pkg/ruler/base/mapper.go
// L84), analytics, limits, and every flag other than those named above (accepted and
// ignored, where Loki rejects an unknown one).

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/yaml"
)

// lokiTopLevel are the keys of loki.Config (pkg/loki/loki.go, the type's yaml tags at
// v3.7.6): UnmarshalStrict refuses any other.
var lokiTopLevel = strings.Fields(`target auth_enabled http_prefix ballast_bytes server internal_server ui
distributor querier query_engine query_scheduler frontend query_range ruler ruler_storage ingester_client ingester
pattern_ingester index_gateway bloom_build bloom_gateway storage_config chunk_store_config schema_config compactor
compactor_client compactor_grpc_client limits_config frontend_worker table_manager memberlist kafka_config dataobj
ingest_limits ingest_limits_frontend ingest_limits_frontend_client runtime_config operational_config tracing
analytics profiling tenant_limits_allow_publish legacy_read_target common shutdown_delay metrics_namespace`)

// lokiConfig is the part of Loki's configuration the stand-in uses.
type lokiConfig struct {
	AuthEnabled *bool `json:"auth_enabled"`
	Server      struct {
		HTTPListenAddress string `json:"http_listen_address"`
		HTTPListenPort    int    `json:"http_listen_port"`
	} `json:"server"`
	Common struct {
		PathPrefix string `json:"path_prefix"`
		Storage    struct {
			Filesystem struct {
				ChunksDirectory string `json:"chunks_directory"`
				RulesDirectory  string `json:"rules_directory"`
			} `json:"filesystem"`
		} `json:"storage"`
	} `json:"common"`
	StorageConfig struct {
		Filesystem struct {
			Directory string `json:"directory"`
		} `json:"filesystem"`
		TSDBShipper struct {
			ActiveIndexDirectory string `json:"active_index_directory"`
			CacheLocation        string `json:"cache_location"`
		} `json:"tsdb_shipper"`
	} `json:"storage_config"`
	Ingester struct {
		WAL struct {
			Enabled *bool  `json:"enabled"`
			Dir     string `json:"dir"`
		} `json:"wal"`
		Lifecycler struct {
			MinReadyDuration string `json:"min_ready_duration"`
		} `json:"lifecycler"`
	} `json:"ingester"`
	Compactor struct {
		WorkingDirectory   string `json:"working_directory"`
		RetentionEnabled   bool   `json:"retention_enabled"`
		DeleteRequestStore string `json:"delete_request_store"`
	} `json:"compactor"`
	SchemaConfig struct {
		Configs []map[string]any `json:"configs"`
	} `json:"schema_config"`
}

// lokiLog is go-kit's logfmt line, as Loki writes it.
func lokiLog(level, msg string, kv ...any) {
	var b strings.Builder
	fmt.Fprintf(&b, "level=%s ts=%s caller=standin msg=%q", level, time.Now().UTC().Format(time.RFC3339Nano), msg)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%q", kv[i], fmt.Sprint(kv[i+1]))
	}
	fmt.Fprintln(os.Stderr, b.String())
}

// lokiHealth is cmd/loki/health.go: GET the URL (5 s), 200 is healthy.
func lokiHealth(args []string) int {
	target := "http://localhost:3100/ready"
	urlFlag := regexp.MustCompile(`^-+health\.url[=:]?(.*)$`)
	for i, a := range args {
		if m := urlFlag.FindStringSubmatch(a); m != nil {
			if m[1] != "" {
				target = m[1]
			} else if i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				target = args[i+1]
			}
			break
		}
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(target)
	if err != nil {
		fmt.Fprintf(os.Stderr, "Health check failed: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		fmt.Println("Loki is healthy")
		return 0
	}
	fmt.Fprintf(os.Stderr, "Loki is unhealthy: status code %d\n", resp.StatusCode)
	return 1
}

func loki(args []string) int {
	health := regexp.MustCompile(`^-+health$`)
	for _, a := range args {
		if health.MatchString(a) {
			return lokiHealth(args)
		}
	}
	for _, a := range args {
		if regexp.MustCompile(`^-+version$`).MatchString(a) {
			fmt.Println("loki, version 3.7.6 (stand-in)")
			return 0
		}
	}
	files, _ := flagValue(args, "config.file")
	if files == "" {
		files = "config.yaml,config/config.yaml"
	}
	expand := false
	if v, ok := flagValue(args, "config.expand-env"); ok {
		expand, _ = strconv.ParseBool(v)
	} else {
		for _, a := range args {
			if strings.TrimLeft(a, "-") == "config.expand-env" {
				expand = true
			}
		}
	}
	var path string
	for _, f := range strings.Split(files, ",") {
		f = strings.TrimSpace(f)
		if _, err := os.Stat(f); err == nil {
			path = f
			break
		}
	}
	if path == "" {
		fmt.Fprintf(os.Stderr, "failed parsing config: %s does not exist, set config.file for custom config path\n", files)
		return 1
	}
	cfg, err := readLokiConfig(path, expand)
	if err != nil {
		fmt.Fprintf(os.Stderr, "failed parsing config: %v\n", err)
		return 1
	}
	return runLoki(cfg)
}

// readLokiConfig reads the file as cfg.YAML does: optionally env-expanded, strictly.
func readLokiConfig(path string, expand bool) (lokiConfig, error) {
	var cfg lokiConfig
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, err
	}
	if expand {
		data = []byte(os.Expand(string(data), os.Getenv))
	}
	suffix := ""
	if !expand {
		suffix = ". Use `-config.expand-env=true` flag if you want to expand environment variables in your config file"
	}
	var top map[string]any
	if err := yaml.Unmarshal(data, &top); err != nil {
		return cfg, fmt.Errorf("%s: %w%s", path, err, suffix)
	}
	known := map[string]bool{}
	for _, k := range lokiTopLevel {
		known[k] = true
	}
	var unknown []string
	for _, k := range sortedKeys(top) {
		if !known[k] {
			line := 0
			for i, l := range strings.Split(string(data), "\n") {
				if strings.HasPrefix(l, k+":") {
					line = i + 1
					break
				}
			}
			unknown = append(unknown, fmt.Sprintf("  line %d: field %s not found in type loki.ConfigWrapper", line, k))
		}
	}
	if len(unknown) > 0 {
		return cfg, fmt.Errorf("%s: yaml: unmarshal errors:\n%s%s", path, strings.Join(unknown, "\n"), suffix)
	}
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return cfg, fmt.Errorf("%s: %w%s", path, err, suffix)
	}
	return cfg, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// lokiEntry is one pushed line, as the stand-in stores it.
type lokiEntry struct {
	Tenant string            `json:"tenant"`
	Stream map[string]string `json:"stream"`
	TS     int64             `json:"ts"`
	Line   string            `json:"line"`
}

type lokiServer struct {
	mu       sync.Mutex
	entries  []lokiEntry
	store    string
	auth     bool
	since    time.Time
	minReady time.Duration
	stopping bool
}

func runLoki(cfg lokiConfig) int {
	prefix := strings.TrimSuffix(cfg.Common.PathPrefix, "/")
	orDerived := func(set, fallback, derived string) string {
		if set != "" {
			return set
		}
		if prefix != "" && derived != "" {
			return prefix + "/" + derived
		}
		return fallback
	}
	chunks := cfg.Common.Storage.Filesystem.ChunksDirectory
	if chunks == "" {
		chunks = cfg.StorageConfig.Filesystem.Directory
	}
	active := orDerived(cfg.StorageConfig.TSDBShipper.ActiveIndexDirectory, "", "tsdb-shipper-active")
	cache := orDerived(cfg.StorageConfig.TSDBShipper.CacheLocation, "", "tsdb-shipper-cache")
	wal := orDerived(cfg.Ingester.WAL.Dir, "wal", "wal")
	compactor := orDerived(cfg.Compactor.WorkingDirectory, "/var/loki/compactor", "compactor")
	if len(cfg.SchemaConfig.Configs) == 0 {
		lokiLog("error", "validating config", "err", "invalid schema config: must provide at least one schema config")
		return 1
	}
	if cfg.Compactor.RetentionEnabled && cfg.Compactor.DeleteRequestStore == "" {
		lokiLog("error", "validating config", "err", "invalid compactor config: compactor.delete-request-store should be configured when retention is enabled")
		return 1
	}
	if chunks == "" {
		fmt.Fprintln(os.Stderr, "standin: no filesystem chunks directory is configured; only the filesystem object store is reproduced")
		return 1
	}
	fail := func(module string, err error) int {
		// util_log.CheckFatal("running loki", ...) (cmd/loki/main.go L149-150), with the
		// module manager's wrapping.
		lokiLog("error", "error running loki", "err", fmt.Sprintf("error initialising module: %s: %v", module, err))
		return 1
	}
	for _, d := range []struct{ module, dir string }{{"store", chunks}, {"store", active}, {"store", cache}} {
		if d.dir == "" {
			continue
		}
		if err := ensureDirectory(d.dir, 0o777); err != nil {
			return fail(d.module, err)
		}
	}
	if cfg.Ingester.WAL.Enabled == nil || *cfg.Ingester.WAL.Enabled {
		if err := os.MkdirAll(wal, 0o750); err != nil {
			abs, _ := filepath.Abs(wal)
			if abs == "" {
				abs = wal
			}
			return fail("ingester", fmt.Errorf("creating WAL folder at %q: %w", abs, err))
		}
	}
	if err := ensureDirectory(compactor, 0o777); err != nil {
		return fail("compactor", err)
	}
	if cfg.Compactor.RetentionEnabled {
		if err := ensureDirectory(filepath.Join(compactor, "delete_requests"), 0o777); err != nil {
			return fail("compactor", fmt.Errorf("failed to init delete store: %w", err))
		}
		// The marker files of a retention run go to os.TempDir(): its failure is the run's.
		if f, err := os.CreateTemp(os.TempDir(), "standin-retention-*"); err != nil {
			lokiLog("error", "failed to apply retention", "err", err)
		} else {
			f.Close()
			os.Remove(f.Name())
		}
	}
	s := &lokiServer{store: filepath.Join(chunks, "standin-streams.jsonl"), auth: cfg.AuthEnabled == nil || *cfg.AuthEnabled, minReady: 15 * time.Second}
	if d := cfg.Ingester.Lifecycler.MinReadyDuration; d != "" {
		v, err := time.ParseDuration(d)
		if err != nil {
			fmt.Fprintf(os.Stderr, "failed parsing config: ingester.lifecycler.min_ready_duration: %v\n", err)
			return 1
		}
		s.minReady = v
	}
	if err := s.load(); err != nil {
		return fail("ingester", err)
	}
	port := cfg.Server.HTTPListenPort
	if port == 0 {
		port = 3100 // server.http_listen_port's default (dskit server)
	}
	addr := fmt.Sprintf("%s:%d", cfg.Server.HTTPListenAddress, port)
	lokiLog("info", "Starting Loki", "version", "3.7.6 (stand-in)")
	code := serve(addr, logged(s, func(r *http.Request, status int) {
		if r.URL.Path != "/ready" || status != 200 {
			lokiLog("debug", "request", "method", r.Method, "uri", r.URL.RequestURI(), "status", status)
		}
	}), func(err error) {
		lokiLog("error", "error running loki", "err", err)
	}, func() {
		s.since = time.Now()
		lokiLog("info", "Loki started", "addr", addr)
	})
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	return code
}

// ensureDirectory is chunk_util.EnsureDirectory.
func ensureDirectory(dir string, mode os.FileMode) error {
	info, err := os.Stat(dir)
	if os.IsNotExist(err) {
		return os.MkdirAll(dir, mode)
	} else if err == nil && !info.IsDir() {
		return fmt.Errorf("not a directory: %s", dir)
	}
	return err
}

func (s *lokiServer) load() error {
	f, err := os.Open(s.store)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e lokiEntry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			s.entries = append(s.entries, e)
		}
	}
	return sc.Err()
}

func (s *lokiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ready" {
		s.ready(w)
		return
	}
	tenant := "fake" // the tenant when auth is disabled
	if s.auth && strings.HasPrefix(r.URL.Path, "/loki/api/") {
		if tenant = r.Header.Get("X-Scope-OrgID"); tenant == "" {
			http.Error(w, "no org id", http.StatusUnauthorized)
			return
		}
	}
	switch {
	case r.URL.Path == "/loki/api/v1/push" && r.Method == http.MethodPost:
		s.push(w, r, tenant)
	case r.URL.Path == "/loki/api/v1/labels":
		s.labels(w, tenant, "")
	case strings.HasPrefix(r.URL.Path, "/loki/api/v1/label/") && strings.HasSuffix(r.URL.Path, "/values"):
		s.labels(w, tenant, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/loki/api/v1/label/"), "/values"))
	case r.URL.Path == "/loki/api/v1/query_range" || r.URL.Path == "/loki/api/v1/query":
		s.query(w, r, tenant)
	case r.URL.Path == "/loki/api/v1/status/buildinfo":
		lokiJSON(w, map[string]string{"version": "3.7.6", "revision": "standin"})
	default:
		http.NotFound(w, r)
	}
}

// ready is readyHandler (loki.go L682-746) with the ingester's min ready duration.
func (s *lokiServer) ready(w http.ResponseWriter) {
	s.mu.Lock()
	stopping, since := s.stopping, s.since
	s.mu.Unlock()
	if stopping {
		http.Error(w, "Application is stopping", http.StatusServiceUnavailable)
		return
	}
	if time.Since(since) < s.minReady {
		http.Error(w, fmt.Sprintf("Ingester not ready: waiting for %v after being ready", s.minReady), http.StatusServiceUnavailable)
		return
	}
	http.Error(w, "ready", http.StatusOK)
}

func lokiJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(v)
}

// push is the push API's JSON form: {"streams":[{"stream":{...},"values":[["<ns>","line",...]]}]}.
func (s *lokiServer) push(w http.ResponseWriter, r *http.Request, tenant string) {
	var body io.Reader = r.Body
	switch r.Header.Get("Content-Encoding") {
	case "":
	case "gzip":
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer gz.Close()
		body = gz
	default:
		http.Error(w, fmt.Sprintf("Content-Encoding %q not supported", r.Header.Get("Content-Encoding")), http.StatusUnsupportedMediaType)
		return
	}
	ct := strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0])
	if ct != "application/json" {
		http.Error(w, "standin: only JSON pushes are reproduced (Content-Type "+strconv.Quote(ct)+")", http.StatusUnsupportedMediaType)
		return
	}
	var req struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values [][]any           `json:"values"`
		} `json:"streams"`
	}
	if err := json.NewDecoder(body).Decode(&req); err != nil {
		http.Error(w, "couldn't parse push request: "+err.Error(), http.StatusBadRequest)
		return
	}
	var entries []lokiEntry
	for _, st := range req.Streams {
		if len(st.Stream) == 0 {
			http.Error(w, "error at least one label pair is required per stream", http.StatusBadRequest)
			return
		}
		for _, v := range st.Values {
			if len(v) < 2 {
				http.Error(w, "couldn't parse push request: an entry needs a timestamp and a line", http.StatusBadRequest)
				return
			}
			tsText, _ := v[0].(string)
			ts, err := strconv.ParseInt(tsText, 10, 64)
			line, ok := v[1].(string)
			if err != nil || !ok {
				http.Error(w, "couldn't parse push request: invalid entry", http.StatusBadRequest)
				return
			}
			entries = append(entries, lokiEntry{Tenant: tenant, Stream: st.Stream, TS: ts, Line: line})
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.store, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		lokiLog("error", "push failed", "err", err)
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	for _, e := range entries {
		b, _ := json.Marshal(e)
		if _, err := f.Write(append(b, '\n')); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	s.entries = append(s.entries, entries...)
	w.WriteHeader(http.StatusNoContent)
}

func (s *lokiServer) labels(w http.ResponseWriter, tenant, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := map[string]bool{}
	for _, e := range s.entries {
		if e.Tenant != tenant {
			continue
		}
		for k, v := range e.Stream {
			if name == "" {
				set[k] = true
			} else if k == name {
				set[v] = true
			}
		}
	}
	lokiJSON(w, map[string]any{"status": "success", "data": sortedKeys(set)})
}

// lokiMatcher is one label matcher of a stream selector.
type lokiMatcher struct {
	name, op, value string
	re              *regexp.Regexp
}

func (m lokiMatcher) matches(labels map[string]string) bool {
	v := labels[m.name]
	switch m.op {
	case "=":
		return v == m.value
	case "!=":
		return v != m.value
	case "=~":
		return m.re.MatchString(v)
	case "!~":
		return !m.re.MatchString(v)
	}
	return false
}

var (
	lokiSelector = regexp.MustCompile(`^\s*\{(.*?)\}\s*(.*)$`)
	lokiPair     = regexp.MustCompile(`^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$`)
	lokiFilter   = regexp.MustCompile(`^\s*(\|=|!=|\|~|!~)\s*"((?:[^"\\]|\\.)*)"`)
)

// parseLogQL parses a stream selector with line filters: {a="b", c=~"d"} |= "x" != "y".
func parseLogQL(q string) (matchers []lokiMatcher, filters []lokiMatcher, err error) {
	m := lokiSelector.FindStringSubmatch(q)
	if m == nil {
		return nil, nil, fmt.Errorf("parse error : syntax error: unexpected IDENTIFIER (the stand-in reads only stream selectors and line filters)")
	}
	for _, part := range strings.Split(m[1], ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		p := lokiPair.FindStringSubmatch(part)
		if p == nil {
			return nil, nil, fmt.Errorf("parse error : invalid matcher %q", part)
		}
		value, _ := strconv.Unquote(`"` + p[3] + `"`)
		lm := lokiMatcher{name: p[1], op: p[2], value: value}
		if strings.Contains(p[2], "~") {
			if lm.re, err = regexp.Compile("^(?:" + value + ")$"); err != nil {
				return nil, nil, fmt.Errorf("parse error : %v", err)
			}
		}
		matchers = append(matchers, lm)
	}
	if len(matchers) == 0 {
		return nil, nil, fmt.Errorf("parse error : queries require at least one regexp or equality matcher that does not have an empty-compatible value")
	}
	rest := m[2]
	for strings.TrimSpace(rest) != "" {
		f := lokiFilter.FindStringSubmatch(rest)
		if f == nil {
			return nil, nil, fmt.Errorf("parse error : the stand-in reads only line filters after the selector, not %q", rest)
		}
		value, _ := strconv.Unquote(`"` + f[2] + `"`)
		lf := lokiMatcher{op: f[1], value: value}
		if strings.Contains(f[1], "~") {
			if lf.re, err = regexp.Compile(value); err != nil {
				return nil, nil, fmt.Errorf("parse error : %v", err)
			}
		}
		filters = append(filters, lf)
		rest = rest[len(f[0]):]
	}
	return matchers, filters, nil
}

func (f lokiMatcher) keeps(line string) bool {
	switch f.op {
	case "|=":
		return strings.Contains(line, f.value)
	case "!=":
		return !strings.Contains(line, f.value)
	case "|~":
		return f.re.MatchString(line)
	case "!~":
		return !f.re.MatchString(line)
	}
	return false
}

// lokiTime reads a query's time: Unix nanoseconds, seconds (with a fraction) or RFC 3339.
func lokiTime(v string, def time.Time) time.Time {
	if v == "" {
		return def
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > 1e15 {
			return time.Unix(0, n)
		}
		return time.Unix(n, 0)
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Unix(0, int64(f*1e9))
	}
	return def
}

func (s *lokiServer) query(w http.ResponseWriter, r *http.Request, tenant string) {
	q := r.URL.Query()
	matchers, filters, err := parseLogQL(q.Get("query"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	end := lokiTime(q.Get("end"), time.Now())
	start := lokiTime(q.Get("start"), end.Add(-time.Hour))
	if r.URL.Path == "/loki/api/v1/query" {
		end = lokiTime(q.Get("time"), time.Now())
		start = end.Add(-time.Hour)
	}
	limit := 100
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		limit = l
	}
	forward := q.Get("direction") == "forward"
	s.mu.Lock()
	var hits []lokiEntry
	for _, e := range s.entries {
		if e.Tenant != tenant || e.TS < start.UnixNano() || e.TS >= end.UnixNano() {
			continue
		}
		ok := true
		for _, m := range matchers {
			ok = ok && m.matches(e.Stream)
		}
		for _, f := range filters {
			ok = ok && f.keeps(e.Line)
		}
		if ok {
			hits = append(hits, e)
		}
	}
	s.mu.Unlock()
	sort.SliceStable(hits, func(i, j int) bool {
		if forward {
			return hits[i].TS < hits[j].TS
		}
		return hits[i].TS > hits[j].TS
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	type stream struct {
		Stream map[string]string `json:"stream"`
		Values [][2]string       `json:"values"`
	}
	var result []*stream
	byKey := map[string]*stream{}
	for _, e := range hits {
		key := fmt.Sprint(sortedPairs(e.Stream))
		st := byKey[key]
		if st == nil {
			st = &stream{Stream: e.Stream}
			byKey[key] = st
			result = append(result, st)
		}
		st.Values = append(st.Values, [2]string{strconv.FormatInt(e.TS, 10), e.Line})
	}
	if result == nil {
		result = []*stream{}
	}
	lokiJSON(w, map[string]any{"status": "success", "data": map[string]any{"resultType": "streams", "result": result, "stats": map[string]any{}}})
}

func sortedPairs(m map[string]string) []string {
	var out []string
	for _, k := range sortedKeys(m) {
		out = append(out, k+"="+m[k])
	}
	return out
}
