package main

// Grafana, the image grafana/grafana:13.2.0. Its Dockerfile and run.sh could not be read
// at the 13.2.0 tag (the repository is too large to mirror here); they were read from the
// code index: the root Dockerfile (e.g. commit 78515af65f03; the user and directory block
// is the same in every copy seen) and packaging/docker/run.sh at blob commit 07754534fbaf
// (the POSIX sh version with the GF_INSTALL_PLUGINS deprecation warning). Line numbers
// below are that run.sh's.
//
// Reproduced: run.sh (the permission warnings, the plugins directory, GF_AWS_PROFILES, the
// __FILE secrets, the exec of `grafana server` with the cfg:default.paths.* arguments),
// then of the server: the database grafana.db in the data path, created at start and
// required (pkg/services/sqlstore); the admin user created once, on the first start, from
// [security] admin_user and admin_password (GF_SECURITY_ADMIN_USER/PASSWORD): a later
// start keeps the stored password whatever the environment says; datasource provisioning
// from <provisioning>/datasources/*.yaml|*.yml (pkg/services/provisioning/datasources),
// an unreadable or invalid file failing start-up; the HTTP API on [server] http_port
// (GF_SERVER_HTTP_PORT, default 3000): GET /api/health (200 {"database":"ok"}, 503 when
// the database check fails; pkg/api/http_server.go apiHealthHandler), GET /healthz,
// basic authentication on /api/*, GET /api/datasources, /api/datasources/name/<name>,
// /api/datasources/uid/<uid>, /api/datasources/<id>, and the data source proxy,
// /api/datasources/proxy/uid/<uid>/<path> and /api/datasources/proxy/<id>/<path>, which
// forwards to the data source's url (how Grafana, access: proxy, reaches Loki).
//
// Not shown: grafana.ini and conf/defaults.ini (only the environment overrides are read);
// dashboards, alerting, plugins and their preinstall (which needs the network); sessions,
// cookies and the login page; SQLite itself. A provisioned data source without a uid gets
// a random one, as Grafana gives it. Whether 13.2 still serves the id-based proxy route is
// not verified.

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"
)

// access is access(2) as the shell's test -r/-w asks it.
func access(path string, mode uint32) bool {
	return path != "" && syscall.Access(path, mode) == nil
}

const (
	rOK = 4
	wOK = 2
)

// grafanaRunSh is run.sh (set -e).
func grafanaRunSh(args []string) int {
	env := os.Getenv
	// L5-24: warnings only, no exit.
	problems := false
	if !access(env("GF_PATHS_CONFIG"), rOK) {
		fmt.Printf("GF_PATHS_CONFIG='%s' is not readable.\n", env("GF_PATHS_CONFIG"))
		problems = true
	}
	if !access(env("GF_PATHS_DATA"), wOK) {
		fmt.Printf("GF_PATHS_DATA='%s' is not writable.\n", env("GF_PATHS_DATA"))
		problems = true
	}
	if !access(env("GF_PATHS_HOME"), rOK) {
		fmt.Printf("GF_PATHS_HOME='%s' is not readable.\n", env("GF_PATHS_HOME"))
		problems = true
	}
	if problems {
		fmt.Println("You may have issues with file permissions, more information here: http://docs.grafana.org/installation/docker/#migrate-to-v51-or-later")
	}
	// L26-28: `mkdir "$GF_PATHS_PLUGINS"` when it is not a directory; under set -e a
	// failure ends the container (busybox mkdir's message).
	plugins := env("GF_PATHS_PLUGINS")
	if fi, err := os.Stat(plugins); err != nil || !fi.IsDir() {
		if err := os.Mkdir(plugins, 0o777); err != nil {
			fmt.Fprintf(os.Stderr, "mkdir: can't create directory '%s': %s\n", plugins, errnoText(err))
			return 1
		}
	}
	// L30-53: GF_AWS_PROFILES, set even if empty, writes $GF_PATHS_HOME/.aws/credentials.
	if profiles, ok := os.LookupEnv("GF_AWS_PROFILES"); ok {
		creds := env("GF_PATHS_HOME") + "/.aws/credentials"
		var b strings.Builder
		for _, p := range strings.Fields(profiles) {
			key, secret := env("GF_AWS_"+p+"_ACCESS_KEY_ID"), env("GF_AWS_"+p+"_SECRET_ACCESS_KEY")
			if key != "" && secret != "" {
				fmt.Fprintf(&b, "[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", p, key, secret)
				if region := env("GF_AWS_" + p + "_REGION"); region != "" {
					fmt.Fprintf(&b, "region = %s\n", region)
				}
			}
		}
		if err := os.WriteFile(creds, []byte(b.String()), 0o666); err != nil {
			fmt.Fprintf(os.Stderr, "/run.sh: line 31: can't create %s: %s\n", creds, errnoText(err))
			return 1
		}
		if err := os.Chmod(creds, 0o600); err != nil {
			fmt.Fprintf(os.Stderr, "chmod: %s: %s\n", creds, errnoText(err))
			return 1
		}
	}
	// L58-69: every GF_*__FILE with a value (env | grep '^GF_[^=]\+__FILE=.\+').
	fileVar := regexp.MustCompile(`^(GF_[^=]+)__FILE=.+`)
	for _, kv := range os.Environ() {
		m := fileVar.FindStringSubmatch(kv)
		if m == nil {
			continue
		}
		name := m[1]
		if env(name) != "" { // L61: [ "${VAR}" ], so a set but empty GF_X does not count
			fmt.Fprintf(os.Stderr, "ERROR: Both %s and %s__FILE are set (but are exclusive)\n", name, name)
			return 1
		}
		file := env(name + "__FILE")
		fmt.Printf("Getting secret %s from %s\n", name, file)
		// L67: export "$VAR_NAME"="$(cat "${FILE}")": $( ) drops the trailing newlines;
		// a cat that fails leaves the variable empty, and export's status (0) lets set -e
		// go on (shell semantics, not verified by a run).
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "cat: can't open '%s': %s\n", file, errnoText(err))
		}
		os.Setenv(name, strings.TrimRight(string(data), "\n"))
		os.Unsetenv(name + "__FILE")
	}
	// L71.
	os.Setenv("HOME", env("GF_PATHS_HOME"))
	// L73-89: GF_INSTALL_PLUGINS is deprecated; with GF_INSTALL_PLUGINS_FORCE=true it runs
	// `grafana cli plugins install`, which needs the network: not reproduced.
	if env("GF_INSTALL_PLUGINS") != "" {
		fmt.Fprintln(os.Stderr, "\\033[0;33mWARN\\033[0m: GF_INSTALL_PLUGINS is deprecated. Use GF_PLUGINS_PREINSTALL or GF_PLUGINS_PREINSTALL_SYNC instead. Checkout the documentation for more info.")
		if env("GF_INSTALL_PLUGINS_FORCE") == "true" {
			fmt.Fprintln(os.Stderr, "standin: installing plugins needs the network and is not reproduced")
			return 1
		}
	}
	// L91-99: exec grafana server ... "$@" cfg:default.log.mode="console" cfg:default.paths.*.
	server := append([]string{"server", "--homepath=" + env("GF_PATHS_HOME"), "--config=" + env("GF_PATHS_CONFIG"), "--packaging=docker"}, args...)
	server = append(server, "cfg:default.log.mode=console",
		"cfg:default.paths.data="+env("GF_PATHS_DATA"), "cfg:default.paths.logs="+env("GF_PATHS_LOGS"),
		"cfg:default.paths.plugins="+env("GF_PATHS_PLUGINS"), "cfg:default.paths.provisioning="+env("GF_PATHS_PROVISIONING"))
	return grafanaCommand("grafana", server)
}

// errnoText is the C library's message for err's errno ("Permission denied").
func errnoText(err error) string {
	var errno syscall.Errno
	if e, ok := err.(*os.PathError); ok {
		err = e.Err
	}
	if e, ok := err.(*os.SyscallError); ok {
		err = e.Err
	}
	if e, ok := err.(syscall.Errno); ok {
		errno = e
		msg := errno.Error()
		return strings.ToUpper(msg[:1]) + msg[1:]
	}
	return err.Error()
}

// grafanaCommand is the grafana binary: `grafana server ...` (or grafana-server ...).
func grafanaCommand(name string, args []string) int {
	if name == "grafana" {
		if len(args) == 0 || args[0] != "server" {
			fmt.Fprintln(os.Stderr, "standin: only `grafana server` is stood in for")
			return 1
		}
		args = args[1:]
	}
	return grafanaServer(args)
}

// grafanaDatasource is a provisioned data source.
type grafanaDatasource struct {
	ID        int    `json:"id"`
	UID       string `json:"uid"`
	OrgID     int    `json:"orgId"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	Access    string `json:"access"`
	URL       string `json:"url"`
	IsDefault bool   `json:"isDefault"`
	ReadOnly  bool   `json:"readOnly"`
}

// grafanaState is what the stand-in keeps in grafana.db: the admin user, made on the
// first start, and the data sources' uids.
type grafanaState struct {
	AdminLogin    string            `json:"adminLogin"`
	AdminPassword string            `json:"adminPassword"`
	UIDs          map[string]string `json:"uids"`
}

type grafana struct {
	db          string
	state       grafanaState
	datasources []grafanaDatasource
}

// grafanaSetting is a setting's value: GF_<SECTION>_<KEY> overrides the ini files, an
// empty variable does not (pkg/setting, applyEnvVariableOverrides; not verified at 13.2).
func grafanaSetting(section, key, def string) string {
	name := "GF_" + strings.ToUpper(section) + "_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// glog is Grafana's console log format (logfmt).
func glog(level, logger, msg string, kv ...any) {
	var b strings.Builder
	fmt.Fprintf(&b, "logger=%s t=%s level=%s msg=%q", logger, time.Now().UTC().Format("2006-01-02T15:04:05.000000000Z07:00"), level, msg)
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%q", kv[i], fmt.Sprint(kv[i+1]))
	}
	fmt.Println(b.String())
}

// grafanaFatal is how the server stops when a service fails to start.
func grafanaFatal(err string) int {
	glog("error", "server", "Server shutdown", "error", err)
	fmt.Fprintf(os.Stderr, "Error: ✗ %s\n", err)
	return 1
}

func grafanaServer(args []string) int {
	paths := map[string]string{}
	home, config := "", ""
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--homepath="); ok {
			home = v
		} else if v, ok := strings.CutPrefix(a, "--config="); ok {
			config = v
		} else if kv, ok := strings.CutPrefix(a, "cfg:default.paths."); ok {
			if k, v, ok := strings.Cut(kv, "="); ok {
				paths[k] = v
			}
		}
	}
	glog("info", "settings", "Starting Grafana", "version", "13.2.0 (stand-in)")
	// The home path must hold conf/defaults.ini, and a --config given must exist.
	if _, err := os.Stat(filepath.Join(home, "conf", "defaults.ini")); err != nil {
		return grafanaFatal(fmt.Sprintf("failed to load configuration: could not find config defaults, make sure homepath command line parameter is set or working directory is homepath: %v", err))
	}
	if config != "" {
		if _, err := os.Stat(config); err != nil {
			return grafanaFatal("failed to load configuration: " + err.Error())
		}
	}
	g := &grafana{}
	data := paths["data"]
	// The SQLite store: its directory made, grafana.db opened (created 0640).
	if err := os.MkdirAll(data, 0o777); err != nil {
		return grafanaFatal("failed to initialize database: " + err.Error())
	}
	g.db = filepath.Join(data, "grafana.db")
	state, err := openDatabase(g.db, 0o640)
	if err != nil {
		return grafanaFatal(fmt.Sprintf("failed to initialize database: %s: %v", g.db, err))
	}
	glog("info", "sqlstore", "Connecting to DB", "dbtype", "sqlite3")
	if len(state) > 0 {
		if err := json.Unmarshal(state, &g.state); err != nil {
			return grafanaFatal("migration failed: file is not a database")
		}
	}
	if g.state.AdminLogin == "" {
		// The first start creates the admin user from [security]; later starts keep it.
		g.state.AdminLogin = grafanaSetting("security", "admin_user", "admin")
		g.state.AdminPassword = grafanaSetting("security", "admin_password", "admin")
		glog("info", "sqlstore", "Created default admin", "user", g.state.AdminLogin)
	}
	if g.state.UIDs == nil {
		g.state.UIDs = map[string]string{}
	}
	if err := g.provision(paths["provisioning"]); err != nil {
		return grafanaFatal("Datasource provisioning error: " + err.Error())
	}
	saved, _ := json.Marshal(g.state)
	if err := saveDatabase(g.db, saved); err != nil {
		return grafanaFatal("failed to initialize database: " + err.Error())
	}
	port := grafanaSetting("server", "http_port", "3000")
	addr := grafanaSetting("server", "http_addr", "") + ":" + port
	return serve(addr, logged(g, func(r *http.Request, status int) {
		glog("info", "context", "Request Completed", "method", r.Method, "path", r.URL.Path, "status", status, "remote_addr", r.RemoteAddr)
	}), func(err error) {
		grafanaFatal("failed to open listener on address " + addr + ": " + err.Error())
	}, func() {
		glog("info", "http.server", "HTTP Server Listen", "address", addr, "protocol", "http")
	})
}

// provision reads the data source provisioning files, as Grafana does at start: every
// .yaml and .yml in <provisioning>/datasources; a file that cannot be read or parsed, a
// data source without a name, or two defaults in one organisation stop start-up.
func (g *grafana) provision(dir string) error {
	dir = filepath.Join(dir, "datasources")
	entries, err := os.ReadDir(dir)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	defaults := map[int]string{}
	for _, e := range entries {
		if e.IsDir() || !(strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("could not read %s: %w", path, err)
		}
		var file struct {
			APIVersion  int `json:"apiVersion"`
			Datasources []struct {
				Name      string `json:"name"`
				Type      string `json:"type"`
				Access    string `json:"access"`
				URL       string `json:"url"`
				UID       string `json:"uid"`
				OrgID     int    `json:"orgId"`
				IsDefault bool   `json:"isDefault"`
				Editable  bool   `json:"editable"`
			} `json:"datasources"`
		}
		if err := yaml.Unmarshal(data, &file); err != nil {
			return fmt.Errorf("could not parse %s: %w", path, err)
		}
		for _, d := range file.Datasources {
			if d.Name == "" {
				return fmt.Errorf("datasource in %s has no name", path)
			}
			org := d.OrgID
			if org == 0 {
				org = 1
			}
			if d.IsDefault {
				if other, ok := defaults[org]; ok && other != d.Name {
					return fmt.Errorf("datasource.yaml config is invalid. Only one datasource per organization can be marked as default")
				}
				defaults[org] = d.Name
			}
			uid := d.UID
			if uid == "" {
				if uid = g.state.UIDs[d.Name]; uid == "" {
					var b [7]byte
					_, _ = rand.Read(b[:])
					uid = hex.EncodeToString(b[:])
				}
			}
			g.state.UIDs[d.Name] = uid
			g.datasources = append(g.datasources, grafanaDatasource{
				ID: len(g.datasources) + 1, UID: uid, OrgID: org, Name: d.Name, Type: d.Type, Access: d.Access,
				URL: d.URL, IsDefault: d.IsDefault, ReadOnly: !d.Editable,
			})
			glog("info", "provisioning.datasources", "inserting datasource from configuration", "name", d.Name, "uid", uid, "url", d.URL, "file", path)
		}
	}
	sort.SliceStable(g.datasources, func(i, j int) bool { return g.datasources[i].ID < g.datasources[j].ID })
	return nil
}

func grafanaJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (g *grafana) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/api/health":
		// apiHealthHandler: the database check fails when the database cannot be read.
		if _, err := os.Stat(g.db); err != nil {
			grafanaJSON(w, 503, map[string]string{"database": "failing", "version": "13.2.0"})
			return
		}
		grafanaJSON(w, 200, map[string]string{"commit": "standin", "database": "ok", "version": "13.2.0"})
		return
	case p == "/healthz":
		w.Write([]byte("Ok"))
		return
	case p == "/login":
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		w.Write([]byte("<!DOCTYPE html><html><head><title>Grafana</title></head><body>Grafana (stand-in)</body></html>\n"))
		return
	case !strings.HasPrefix(p, "/api/"):
		http.Redirect(w, r, "/login", http.StatusFound)
		return
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		grafanaJSON(w, 401, map[string]string{"message": "Unauthorized"})
		return
	}
	if user != g.state.AdminLogin || pass != g.state.AdminPassword {
		grafanaJSON(w, 401, map[string]string{"message": "invalid username or password"})
		return
	}
	rest, ok := strings.CutPrefix(p, "/api/datasources")
	if !ok {
		grafanaJSON(w, 404, map[string]string{"message": "Not found"})
		return
	}
	find := func(match func(d grafanaDatasource) bool) (grafanaDatasource, bool) {
		for _, d := range g.datasources {
			if match(d) {
				return d, true
			}
		}
		return grafanaDatasource{}, false
	}
	notFound := func() { grafanaJSON(w, 404, map[string]string{"message": "Data source not found"}) }
	parts := strings.SplitN(strings.TrimPrefix(rest, "/"), "/", 4)
	switch {
	case rest == "" || rest == "/":
		grafanaJSON(w, 200, g.datasources)
	case parts[0] == "name" && len(parts) == 2:
		if d, ok := find(func(d grafanaDatasource) bool { return d.Name == parts[1] }); ok {
			grafanaJSON(w, 200, d)
		} else {
			notFound()
		}
	case parts[0] == "uid" && len(parts) == 2:
		if d, ok := find(func(d grafanaDatasource) bool { return d.UID == parts[1] }); ok {
			grafanaJSON(w, 200, d)
		} else {
			notFound()
		}
	case parts[0] == "proxy" && len(parts) >= 3 && parts[1] == "uid":
		d, ok := find(func(d grafanaDatasource) bool { return d.UID == parts[2] })
		if !ok {
			notFound()
			return
		}
		tail := ""
		if len(parts) == 4 {
			tail = parts[3]
		}
		g.proxy(w, r, d, tail)
	case parts[0] == "proxy" && len(parts) >= 2:
		id, _ := strconv.Atoi(parts[1])
		d, ok := find(func(d grafanaDatasource) bool { return d.ID == id })
		if !ok {
			notFound()
			return
		}
		tail := strings.Join(parts[2:], "/")
		g.proxy(w, r, d, tail)
	case len(parts) == 1:
		id, err := strconv.Atoi(parts[0])
		if d, ok := find(func(d grafanaDatasource) bool { return d.ID == id }); err == nil && ok {
			grafanaJSON(w, 200, d)
		} else {
			notFound()
		}
	default:
		grafanaJSON(w, 404, map[string]string{"message": "Not found"})
	}
}

// proxy is the data source proxy: the request, less Grafana's own credentials, sent to
// the data source's url joined with the rest of the path, and the answer relayed.
func (g *grafana) proxy(w http.ResponseWriter, r *http.Request, d grafanaDatasource, tail string) {
	target, err := url.Parse(strings.TrimSuffix(d.URL, "/") + "/" + tail)
	if err != nil {
		grafanaJSON(w, 400, map[string]string{"message": "invalid data source url"})
		return
	}
	target.RawQuery = r.URL.RawQuery
	req, err := http.NewRequestWithContext(r.Context(), r.Method, target.String(), r.Body)
	if err != nil {
		grafanaJSON(w, 500, map[string]string{"message": err.Error()})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		glog("error", "data-proxy-log", "Proxy request failed", "err", err, "url", target.String())
		grafanaJSON(w, 502, map[string]string{"message": "Bad Gateway"})
		return
	}
	defer resp.Body.Close()
	for _, h := range []string{"Content-Type", "Content-Length"} {
		if v := resp.Header.Get(h); v != "" {
			w.Header().Set(h, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}
