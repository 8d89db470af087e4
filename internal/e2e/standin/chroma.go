package main

// ChromaDB 0.6.3, the image chromadb/chroma:0.6.3: chroma-core/chroma at tag 0.6.3
// (a3b86a0302a3). The image (Dockerfile L41-67) is python:3.11-slim-bookworm running as
// root in WORKDIR /chroma, ENTRYPOINT /docker_entrypoint.sh with one CMD string that the
// entrypoint expands and hands to uvicorn, which loads chromadb.app:app.
//
// Reproduced: the entrypoint's expansion of that string (bin/docker_entrypoint.sh L4-14);
// uvicorn's options, and its --log-config loaded relative to the working directory and
// applied with logging.config.dictConfig, which opens every handler's file at start
// (encode/uvicorn uvicorn/config.py Config.configure_logging; CPython
// Lib/logging/config.py DictConfigurator.configure, "Unable to configure handler");
// Settings from the environment, case-insensitive, and from ./.env (chromadb/config.py
// L142-143, L300-302); the SQLite file made under PERSIST_DIRECTORY at start
// (chromadb/db/impl/sqlite.py L87-93); token authentication with its single-line file bug
// (chromadb/auth/__init__.py L101-126; chromadb/auth/token_authn/__init__.py L40-76,
// L142-235); the routes the program and the tests use, with the errors' status and body
// (chromadb/server/fastapi/__init__.py L116-135, L231-232, L276, L436-449, L1249-1306;
// chromadb/errors.py L48-60, L117-125; chromadb/utils/fastapi.py L7-11).
//
// Not shown: embeddings, queries and HNSW segment files; telemetry (PostHog); raising
// RLIMIT_NOFILE (config.py L379-409); authorization providers; basic authentication; the
// .ini log config format (uvicorn's fileConfig); SQLite's journal and temp files; Python
// writing nothing else. Collections are kept as JSON after the SQLite header of
// chroma.sqlite3, so they survive a restart and sit in the host data directory.

import (
	"crypto/rand"
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

// chromaEntrypoint is bin/docker_entrypoint.sh at 0.6.3:
//
//	4  export IS_PERSISTENT=1
//	5  export CHROMA_SERVER_NOFILE=${CHROMA_SERVER_NOFILE:-65536}
//	6  args="$@"
//	8  if [[ $args =~ ^uvicorn.* ]]; then
//	9      echo "Starting server with args: $(eval echo "$args")"
//	10     echo -e "\033[31mWARNING: Please remove 'uvicorn chromadb.app:app' ..."
//	11     exec $(eval echo "$args")
//	12 else
//	13     echo "Starting 'uvicorn chromadb.app:app' with args: $(eval echo "$args")"
//	14     exec uvicorn chromadb.app:app $(eval echo "$args")
func chromaEntrypoint(args []string) int {
	os.Setenv("IS_PERSISTENT", "1")
	if os.Getenv("CHROMA_SERVER_NOFILE") == "" {
		os.Setenv("CHROMA_SERVER_NOFILE", "65536")
	}
	joined := strings.Join(args, " ")
	words := evalEcho(joined)
	expanded := strings.Join(words, " ")
	if regexp.MustCompile(`^uvicorn.*`).MatchString(joined) {
		fmt.Println("Starting server with args: " + expanded)
		fmt.Println("\033[31mWARNING: Please remove 'uvicorn chromadb.app:app' from your command line arguments. This is now handled by the entrypoint script.")
		if len(words) == 0 {
			return 0
		}
		// exec runs the first word from PATH; this binary stands in for uvicorn alone.
		return dispatch(filepath.Base(words[0]), words[1:])
	}
	fmt.Println("Starting 'uvicorn chromadb.app:app' with args: " + expanded)
	return uvicorn(append([]string{"chromadb.app:app"}, words...))
}

// evalEcho is the words of `$(eval echo "$s")` unquoted: $VAR, ${VAR} and ${VAR:-word}
// expanded from the environment, quotes removed, split on blanks. (Globbing, command
// substitution and escapes, which eval would also do, are not reproduced.)
func evalEcho(s string) []string {
	expanded := os.Expand(s, func(name string) string {
		if v, def, ok := strings.Cut(name, ":-"); ok {
			if got := os.Getenv(v); got != "" {
				return got
			}
			return def
		}
		return os.Getenv(name)
	})
	expanded = strings.NewReplacer(`"`, "", `'`, "").Replace(expanded)
	return strings.Fields(expanded)
}

// uvicornOptions are the uvicorn command line's (uvicorn/main.py's click options).
type uvicornOptions struct {
	app, host, logConfig string
	port                 int
}

// uvicornValued are the options that take a value; uvicornFlags those that do not.
var (
	uvicornValued = map[string]bool{"--host": true, "--port": true, "--uds": true, "--fd": true, "--workers": true,
		"--loop": true, "--http": true, "--ws": true, "--lifespan": true, "--interface": true, "--env-file": true,
		"--log-config": true, "--log-level": true, "--root-path": true, "--limit-concurrency": true, "--backlog": true,
		"--limit-max-requests": true, "--timeout-keep-alive": true, "--timeout-graceful-shutdown": true,
		"--ssl-keyfile": true, "--ssl-certfile": true, "--ssl-keyfile-password": true, "--ssl-version": true,
		"--ssl-cert-reqs": true, "--ssl-ca-certs": true, "--ssl-ciphers": true, "--header": true, "--app-dir": true,
		"--forwarded-allow-ips": true, "--h11-max-incomplete-event-size": true}
	uvicornFlags = map[string]bool{"--proxy-headers": true, "--no-proxy-headers": true, "--access-log": true,
		"--no-access-log": true, "--use-colors": true, "--no-use-colors": true, "--server-header": true,
		"--no-server-header": true, "--date-header": true, "--no-date-header": true, "--factory": true}
)

// clickError is how a click command rejects its command line: usage on stderr, exit 2.
func clickError(msg string) int {
	fmt.Fprintf(os.Stderr, "Usage: uvicorn [OPTIONS] APP\nTry 'uvicorn --help' for help.\n\nError: %s\n", msg)
	return 2
}

// uvicorn runs uvicorn's command line for chromadb.app:app, the only app this image has.
func uvicorn(args []string) int {
	o := uvicornOptions{host: "127.0.0.1", port: 8000}
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, inline := strings.Cut(a, "=")
		switch {
		case uvicornValued[name]:
			if !inline {
				if i+1 >= len(args) {
					return clickError(fmt.Sprintf("Option '%s' requires an argument.", name))
				}
				i++
				value = args[i]
			}
			switch name {
			case "--host":
				o.host = value
			case "--port":
				p, err := strconv.Atoi(value)
				if err != nil {
					return clickError(fmt.Sprintf("Invalid value for '--port': '%s' is not a valid integer.", value))
				}
				o.port = p
			case "--log-config":
				// type=click.Path(exists=True) (uvicorn/main.py).
				if _, err := os.Stat(value); err != nil {
					return clickError(fmt.Sprintf("Invalid value for '--log-config': Path '%s' does not exist.", value))
				}
				o.logConfig = value
			}
		case uvicornFlags[a]:
		case strings.HasPrefix(a, "-"):
			return clickError("No such option: " + name)
		default:
			positional = append(positional, a)
		}
	}
	if len(positional) == 0 {
		return clickError("Missing argument 'APP'.")
	}
	if len(positional) > 1 {
		return clickError(fmt.Sprintf("Got unexpected extra argument (%s)", positional[1]))
	}
	o.app = positional[0]
	return runChroma(o)
}

// pyLog is the logging the log config set up: the root logger's console handler
// (stdout) and every handler writing a file, in the shipped config's default format
// ('%(levelprefix)s [%(asctime)s] %(message)s', datefmt '%d-%m-%Y %H:%M:%S';
// chromadb/log_config.yml L4-8, L22-33).
type pyLog struct {
	mu    sync.Mutex
	files []*os.File
}

func (l *pyLog) log(level, msg string) {
	line := fmt.Sprintf("%-9s [%s] %s\n", level+":", time.Now().Format("02-01-2006 15:04:05"), msg)
	l.mu.Lock()
	defer l.mu.Unlock()
	os.Stdout.WriteString(line)
	for _, f := range l.files {
		f.WriteString(line)
	}
}

// pyTraceback ends the process as an uncaught Python exception does: the traceback on
// stderr (its frames are not reproduced), exit 1.
func pyTraceback(lines ...string) int {
	fmt.Fprintln(os.Stderr, "Traceback (most recent call last):")
	fmt.Fprintln(os.Stderr, "  (frames not reproduced by the stand-in)")
	for _, l := range lines {
		fmt.Fprintln(os.Stderr, l)
	}
	return 1
}

// configureLogging does what uvicorn does with --log-config: .json through json.load,
// .yaml/.yml through yaml.safe_load, then logging.config.dictConfig, which builds every
// handler in sorted order and so opens each `filename` for append (mode 'a', created),
// relative to the working directory. A handler that cannot be built fails start-up with
// "ValueError: Unable to configure handler '<name>'", raised from the open's OSError.
func configureLogging(path string) (*pyLog, int) {
	l := &pyLog{}
	if path == "" {
		return l, 0 // uvicorn's own LOGGING_CONFIG: streams only
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, pyTraceback(pyErrno(err))
	}
	var cfg struct {
		Handlers map[string]map[string]any `json:"handlers"`
	}
	switch {
	case strings.HasSuffix(path, ".json"):
		err = json.Unmarshal(data, &cfg)
	case strings.HasSuffix(path, ".yaml"), strings.HasSuffix(path, ".yml"):
		err = yaml.Unmarshal(data, &cfg)
	default:
		fmt.Fprintf(os.Stderr, "standin: %s would go to logging.config.fileConfig (.ini), which the stand-in does not reproduce\n", path)
		return nil, 1
	}
	if err != nil {
		return nil, pyTraceback("yaml.parser.ParserError: " + err.Error())
	}
	names := make([]string, 0, len(cfg.Handlers))
	for name := range cfg.Handlers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		filename, ok := cfg.Handlers[name]["filename"].(string)
		if !ok {
			continue
		}
		// logging.FileHandler opens os.path.abspath(filename).
		if abs, err := filepath.Abs(filename); err == nil {
			filename = abs
		}
		f, err := os.OpenFile(filename, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
		if err != nil {
			return nil, pyTraceback(pyErrno(err), "",
				"The above exception was the direct cause of the following exception:", "",
				"Traceback (most recent call last):", "  (frames not reproduced by the stand-in)",
				fmt.Sprintf("ValueError: Unable to configure handler '%s'", name))
		}
		l.files = append(l.files, f)
	}
	return l, 0
}

// chromaSettings reads a chromadb Settings field: pydantic's BaseSettings takes the field
// name from the environment case-insensitively, then from ./.env (config.py L300-302).
type chromaSettings struct{ dotenv map[string]string }

func newChromaSettings() chromaSettings {
	s := chromaSettings{dotenv: map[string]string{}}
	if data, err := os.ReadFile(".env"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
				s.dotenv[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"'`)
			}
		}
	}
	return s
}

func (s chromaSettings) get(field, def string) string {
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.EqualFold(k, field) {
			return v
		}
	}
	if v, ok := s.dotenv[field]; ok {
		return v
	}
	return def
}

// pydantic's bool: 1, true, yes, on (any case) are true.
func pyBool(v string) bool {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on", "t", "y":
		return true
	}
	return false
}

// tokenAuth is TokenAuthenticationServerProvider (token_authn/__init__.py L128-235).
type tokenAuth struct {
	header string
	tokens map[string]bool
}

const tokenProvider = "chromadb.auth.token_authn.TokenAuthenticationServerProvider"

// validTokenChars are string.digits + ascii_letters + punctuation (token_authn L53-61).
func validToken(t string) bool {
	for _, c := range t {
		if c > 126 || c <= 32 {
			return false
		}
	}
	return true
}

// newTokenAuth builds the provider as its constructor does, or the exception it raises.
func newTokenAuth(s chromaSettings) (*tokenAuth, string) {
	a := &tokenAuth{header: "Authorization", tokens: map[string]bool{}}
	// L145-153: the transport header, if set, must be one of two (L64-75).
	if h := s.get("chroma_auth_token_transport_header", ""); h != "" {
		if h != "Authorization" && h != "X-Chroma-Token" {
			return nil, fmt.Sprintf("ValueError: Invalid token transport header: %s. Must be one of ['Authorization', 'X-Chroma-Token']", h)
		}
		a.header = h
	}
	// auth/__init__.py L101-126: exactly one of the two settings; the file read with
	// readlines(), which keeps each line's newline.
	file := s.get("chroma_server_authn_credentials_file", "")
	creds := s.get("chroma_server_authn_credentials", "")
	if file == "" && creds == "" {
		return nil, "ValueError: No credentials file or credentials found in [chroma_server_authn_credentials]."
	}
	if file != "" && creds != "" {
		return nil, "ValueError: Both credentials file and credentials found.Please provide only one."
	}
	var lines []string
	if creds != "" {
		for _, c := range strings.Split(creds, "\n") {
			if c != "" {
				lines = append(lines, c)
			}
		}
	} else {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, pyErrno(err)
		}
		lines = readlines(string(data))
	}
	// L158-167: one line is the token itself, as read: with its newline, if it has one
	// (incoming tokens are stripped, L206, so such a token never matches).
	if len(lines) == 1 {
		a.tokens[lines[0]] = true
		return a, ""
	}
	// L169-188: otherwise a YAML document with users, each with tokens.
	var doc map[string]any
	if err := yaml.Unmarshal([]byte(strings.Join(lines, "\n")), &doc); err != nil {
		return nil, "yaml.scanner.ScannerError: " + err.Error()
	}
	if doc == nil {
		return nil, "TypeError: 'NoneType' object is not subscriptable"
	}
	users, ok := doc["users"].([]any)
	if !ok {
		return nil, "KeyError: 'users'"
	}
	for _, u := range users {
		user, _ := u.(map[string]any)
		tokens, ok := user["tokens"].([]any)
		if !ok {
			return nil, "ValueError: User missing tokens"
		}
		for _, t := range tokens {
			tok := fmt.Sprint(t)
			if !validToken(tok) {
				return nil, "ValueError: Invalid token. Must contain only ASCII letters, digits, and punctuation."
			}
			a.tokens[tok] = true
		}
	}
	return a, ""
}

// readlines is Python's f.readlines(): the lines with their newlines.
func readlines(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i+1])
		s = s[i+1:]
	}
	return out
}

// authenticate is authenticate_or_raise (L194-235): any failure is ChromaAuthError, 403.
func (a *tokenAuth) authenticate(r *http.Request) bool {
	values, ok := r.Header[http.CanonicalHeaderKey(a.header)]
	if !ok || len(values) == 0 {
		return false // "Authorization header ... not found"
	}
	token := values[len(values)-1]
	if a.header == "Authorization" {
		if !strings.HasPrefix(token, "Bearer ") {
			return false
		}
		token = strings.TrimPrefix(token, "Bearer ")
	}
	token = strings.TrimSpace(token)
	return validToken(token) && a.tokens[token]
}

// collection is a CollectionModel as the API returns it.
type collection struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Metadata    map[string]any `json:"metadata"`
	Dimension   *int           `json:"dimension"`
	Tenant      string         `json:"tenant"`
	Database    string         `json:"database"`
	Version     int            `json:"version"`
	LogPosition int            `json:"log_position"`
	Config      map[string]any `json:"configuration_json"`
}

// chromaServer is the FastAPI server's routes the stand-in serves.
type chromaServer struct {
	mu          sync.Mutex
	auth        *tokenAuth
	db          string // chroma.sqlite3, or "" when not persistent
	collections []collection
	log         *pyLog
}

func runChroma(o uvicornOptions) int {
	// uvicorn's Config applies the log config first.
	l, code := configureLogging(o.logConfig)
	if l == nil {
		return code
	}
	pid := os.Getpid()
	// Then Server._serve loads the app before it says it started: chromadb.app builds
	// Settings and the FastAPI server.
	if o.app != "chromadb.app:app" {
		l.log("ERROR", fmt.Sprintf("Error loading ASGI app. Could not import module %q.", strings.Split(o.app, ":")[0]))
		return 1
	}
	s := newChromaSettings()
	srv := &chromaServer{log: l}
	// chromadb/db/impl/sqlite.py L80-93: persistent, the database is
	// <persist_directory>/chroma.sqlite3, its directory made when the file is missing.
	if pyBool(s.get("is_persistent", "false")) {
		dir := s.get("persist_directory", "./chroma")
		srv.db = dir + "/chroma.sqlite3"
		if _, err := os.Stat(srv.db); err != nil {
			if err := os.MkdirAll(dir, 0o777); err != nil {
				return pyTraceback(pyErrno(err))
			}
		}
		state, err := openDatabase(srv.db, 0o644)
		if err != nil {
			if err.Error() == "file is not a database" {
				return pyTraceback("sqlite3.DatabaseError: file is not a database")
			}
			return pyTraceback("sqlite3.OperationalError: unable to open database file (" + pyErrno(err) + ")")
		}
		if len(state) > 0 {
			if err := json.Unmarshal(state, &srv.collections); err != nil {
				return pyTraceback("sqlite3.DatabaseError: database disk image is malformed")
			}
		}
	}
	// fastapi/__init__.py L221-227: the authn provider, if one is configured.
	if p := s.get("chroma_server_authn_provider", ""); p != "" {
		if p != tokenProvider {
			fmt.Fprintf(os.Stderr, "standin: authn provider %s is not reproduced (only %s)\n", p, tokenProvider)
			return 1
		}
		a, exc := newTokenAuth(s)
		if exc != "" {
			return pyTraceback(exc)
		}
		srv.auth = a
	}
	if p := s.get("chroma_server_authz_provider", ""); p != "" {
		fmt.Fprintf(os.Stderr, "standin: authz provider %s is not reproduced\n", p)
		return 1
	}
	l.log("INFO", fmt.Sprintf("Started server process [%d]", pid))
	l.log("INFO", "Waiting for application startup.")
	addr := fmt.Sprintf("%s:%d", o.host, o.port)
	handler := logged(srv, func(r *http.Request, status int) {
		// uvicorn's access line ("uvicorn.access", propagated to the root handlers).
		l.log("INFO", fmt.Sprintf(`%s - "%s %s HTTP/%d.%d" %d`, r.RemoteAddr, r.Method, r.URL.RequestURI(), r.ProtoMajor, r.ProtoMinor, status))
	})
	code = serve(addr, handler, func(err error) {
		l.log("ERROR", fmt.Sprintf("[Errno 98] error while attempting to bind on address ('%s', %d): %v", o.host, o.port, err))
	}, func() {
		l.log("INFO", "Application startup complete.")
		l.log("INFO", fmt.Sprintf("Uvicorn running on http://%s (Press CTRL+C to quit)", addr))
	})
	l.log("INFO", "Shutting down")
	l.log("INFO", fmt.Sprintf("Finished server process [%d]", pid))
	return code
}

// chromaJSON answers as FastAPI's ORJSONResponse does.
func chromaJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// chromaError is fastapi_json_response (utils/fastapi.py L7-11).
func chromaError(w http.ResponseWriter, status int, name, message string) {
	chromaJSON(w, status, map[string]string{"error": name, "message": message})
}

// v2Collections is the v2 route of the default tenant's default database (L333-356).
const v2Collections = "/api/v2/tenants/default_tenant/databases/default_database/collections"

func (s *chromaServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	type route struct {
		method string
		auth   bool
		h      func(http.ResponseWriter, *http.Request)
	}
	heartbeat := func(w http.ResponseWriter, r *http.Request) {
		chromaJSON(w, 200, map[string]int64{"nanosecond heartbeat": time.Now().UnixNano()})
	}
	version := func(w http.ResponseWriter, r *http.Request) { chromaJSON(w, 200, "0.6.3") }
	// The routes without a token are those that never call the auth (heartbeat, version,
	// root), the same as config.py L171-178's ignore list.
	routes := map[string][]route{
		"/api/v1":             {{"GET", false, heartbeat}},
		"/api/v2":             {{"GET", false, heartbeat}},
		"/api/v1/heartbeat":   {{"GET", false, heartbeat}},
		"/api/v2/heartbeat":   {{"GET", false, heartbeat}},
		"/api/v1/version":     {{"GET", false, version}},
		"/api/v2/version":     {{"GET", false, version}},
		"/api/v1/collections": {{"GET", true, s.list}, {"POST", true, s.create}},
		v2Collections:         {{"GET", true, s.list}, {"POST", true, s.create}},
	}
	rs, ok := routes[r.URL.Path]
	if !ok {
		chromaJSON(w, 404, map[string]string{"detail": "Not Found"})
		return
	}
	for _, rt := range rs {
		if rt.method != r.Method {
			continue
		}
		if rt.auth && s.auth != nil && !s.auth.authenticate(r) {
			chromaError(w, 403, "AuthError", "Forbidden") // errors.py L48-60
			return
		}
		rt.h(w, r)
		return
	}
	chromaJSON(w, 405, map[string]string{"detail": "Method Not Allowed"})
}

func (s *chromaServer) list(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]collection{}, s.collections...)
	chromaJSON(w, 200, out)
}

// checkIndexName is api/segment.py L79-96.
func checkIndexName(name string) error {
	msg := fmt.Errorf("Expected collection name that (1) contains 3-63 characters, (2) starts and ends with an alphanumeric character, (3) otherwise contains only alphanumeric characters, underscores or hyphens (-), (4) contains no two consecutive periods (..) and (5) is not a valid IPv4 address, got %s", name)
	if len(name) < 3 || len(name) > 63 || !regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]*[a-zA-Z0-9]$`).MatchString(name) ||
		strings.Contains(name, "..") || regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$`).MatchString(name) {
		return msg
	}
	return nil
}

// create is create_collection (fastapi L1654-1705, api/segment.py L218-273,
// db/mixins/sysdb.py L284-305): 409 UniqueConstraintError for a name taken unless
// get_or_create.
func (s *chromaServer) create(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req struct {
		Name        string         `json:"name"`
		Metadata    map[string]any `json:"metadata"`
		GetOrCreate bool           `json:"get_or_create"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		chromaError(w, 400, "InvalidArgumentError", err.Error())
		return
	}
	if err := checkIndexName(req.Name); err != nil {
		chromaError(w, 400, "InvalidArgumentError", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.collections {
		if c.Name == req.Name {
			if req.GetOrCreate {
				chromaJSON(w, 200, c)
				return
			}
			chromaError(w, 409, "UniqueConstraintError", fmt.Sprintf("Collection %s already exists", req.Name))
			return
		}
	}
	c := collection{ID: uuid4(), Name: req.Name, Metadata: req.Metadata, Tenant: "default_tenant", Database: "default_database",
		Config: map[string]any{"_type": "CollectionConfigurationInternal"}}
	s.collections = append(s.collections, c)
	if s.db != "" {
		state, _ := json.Marshal(s.collections)
		if err := saveDatabase(s.db, state); err != nil {
			s.collections = s.collections[:len(s.collections)-1]
			s.log.log("ERROR", "sqlite3.OperationalError: "+err.Error())
			chromaJSON(w, 500, map[string]string{"error": "OperationalError('" + err.Error() + "')"})
			return
		}
	}
	chromaJSON(w, 200, c)
}

func uuid4() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
