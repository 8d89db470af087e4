package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// standInImage is an image no registry here serves, built from the stand-in binary.
type standInImage struct {
	Ref              string // the exact reference the stack uses
	User, WorkingDir string
	Entrypoint, Cmd  []string
	Env              []string    // KEY=VALUE, as the upstream image's ENV sets them
	ExposedPorts     []string    // "8000/tcp"
	Files            []imageFile // the root file system
	Cannot           string      // which upstream behaviours this stand-in cannot show
}

// imageFile is one entry of an image's root file system: a directory, a symbolic link, a
// file with its content, or the stand-in binary.
type imageFile struct {
	Path        string
	Mode        os.FileMode // permissions; the sticky, setuid and setgid bits as 0o1000, 0o4000, 0o2000 or os.Mode*
	UID, GID    int
	Dir         bool
	Link        string // symlink target
	Content     []byte
	FromStandIn bool // the stand-in binary's bytes
}

// The images the Docker target pulls, as the program's configuration names them:
// stacks/config/profiles.go, chroma() (lamina:chroma.image) and dockerDefaults()
// (lamina:docker.grafana.image, .loki.image, .vector.image). The engine test's module
// does not import the program's, so they are written here, and
// TestStandInImagesAreWhatTheUpstreamImagesAre reads profiles.go to fail when they drift.
const (
	chromaImage  = "chromadb/chroma:0.6.3"
	grafanaImage = "grafana/grafana:13.2.0"
	lokiImage    = "grafana/loki:3.7.6"
	vectorImage  = "timberio/vector:0.56.0-distroless-libc"
)

// Lamina's own images, as stack_test.go's configure sets lamina:images.*.reference (the
// program builds them from a checkout by default, which this machine does not have).
const (
	llmServeImage  = "ghcr.io/lamina-os/lamina-llm-serve:0.9.0"
	coreImage      = "ghcr.io/lamina-os/lamina-core:0.9.0"
	dashboardImage = "ghcr.io/lamina-os/lamina-dashboard:0.9.0"
	// probeImage is the test's own client (standin/probe.go), imitating nothing.
	probeImage = "lamina-e2e/probe:1"
)

// The stand-in binary's modules for Lamina's Python images (standin/lamina.go).
const (
	coreModule      = "lamina.api.unified_server"
	dashboardModule = "lamina_dashboard"
)

// rootFS accumulates an image's files.
type rootFS struct{ files []imageFile }

func (r *rootFS) dir(p string, mode os.FileMode, uid, gid int) {
	r.files = append(r.files, imageFile{Path: p, Dir: true, Mode: mode, UID: uid, GID: gid})
}

func (r *rootFS) file(p string, mode os.FileMode, uid, gid int, content string) {
	r.files = append(r.files, imageFile{Path: p, Mode: mode, UID: uid, GID: gid, Content: []byte(content)})
}

func (r *rootFS) standIn(p string) {
	r.files = append(r.files, imageFile{Path: p, Mode: 0o755, FromStandIn: true})
}

func (r *rootFS) link(p, target string) {
	r.files = append(r.files, imageFile{Path: p, Link: target})
}

// hostBinary puts this machine's program name at p, with every shared library ldd says
// it loads, each where it lies here: a real Debian program in an image (the proxies'
// nginx and busybox, the build image's make and busybox).
func (r *rootFS) hostBinary(p, name string) error {
	from, err := lookPath(name)
	if err != nil {
		return fmt.Errorf("%s is not installed (apt-get install %s): %w", name, name, err)
	}
	libs, err := sharedLibraries(from)
	if err != nil {
		return err
	}
	add := func(path, from string) error {
		data, err := os.ReadFile(from)
		if err == nil {
			r.files = append(r.files, imageFile{Path: path, Mode: 0o755, Content: data})
		}
		return err
	}
	if err := add(p, from); err != nil {
		return err
	}
	for _, lib := range libs {
		if err := add(lib, lib); err != nil {
			return err
		}
	}
	return nil
}

// base is what every one of these images has: /tmp open to all (1777: Debian's, Alpine's
// and distroless's bases all ship it so), root's home, the account files.
func (r *rootFS) base(passwd, group string) {
	r.dir("/tmp", 0o1777, 0, 0)
	r.dir("/root", 0o700, 0, 0)
	r.file("/etc/passwd", 0o644, 0, 0, passwd)
	r.file("/etc/group", 0o644, 0, 0, group)
}

// Debian's base accounts (python:3.11-slim-bookworm, golang's build stage), the few that
// matter here.
const (
	debianPasswd = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
	debianGroup  = "root:x:0:\ndaemon:x:1:\nnogroup:x:65534:\n"
	// distroless's (gcr.io/distroless/static and cc): root, nobody and nonroot.
	distrolessPasswd = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
	distrolessGroup  = "root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"
	distrolessPath   = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	// pythonPath is the python images' PATH (ENV PATH /usr/local/bin:$PATH).
	pythonPath = "PATH=/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// chromaLogConfig is the shape of chroma-core/chroma 0.6.3's chromadb/log_config.yml: its
// handlers console (stdout) and file (a RotatingFileHandler writing chroma.log, relative to
// the working directory), both on the root logger (L13-37).
const chromaLogConfig = `version: 1
disable_existing_loggers: False
formatters:
  default:
    "()": uvicorn.logging.DefaultFormatter
    format: '%(levelprefix)s [%(asctime)s] %(message)s'
    use_colors: null
    datefmt: '%d-%m-%Y %H:%M:%S'
  access:
    "()": uvicorn.logging.AccessFormatter
    format: '%(levelprefix)s [%(asctime)s] %(client_addr)s - "%(request_line)s" %(status_code)s'
    datefmt: '%d-%m-%Y %H:%M:%S'
handlers:
  default:
    formatter: default
    class: logging.StreamHandler
    stream: ext://sys.stderr
  access:
    formatter: access
    class: logging.StreamHandler
    stream: ext://sys.stdout
  console:
    class: logging.StreamHandler
    stream: ext://sys.stdout
    formatter: default
  file:
    class : logging.handlers.RotatingFileHandler
    filename: chroma.log
    formatter: default
loggers:
  root:
    level: WARN
    handlers: [console, file]
  chromadb:
    level: DEBUG
  uvicorn:
    level: INFO
`

// lokiDefaultConfig is grafana/loki v3.7.6's cmd/loki/loki-docker-config.yaml, the
// image's /etc/loki/local-config.yaml (Dockerfile L12-14), less its comments.
const lokiDefaultConfig = `auth_enabled: false

server:
  http_listen_port: 3100

common:
  instance_addr: 127.0.0.1
  path_prefix: /loki
  storage:
    filesystem:
      chunks_directory: /loki/chunks
      rules_directory: /loki/rules
  replication_factor: 1
  ring:
    kvstore:
      store: inmemory

schema_config:
  configs:
    - from: 2020-10-24
      store: tsdb
      object_store: filesystem
      schema: v13
      index:
        prefix: index_
        period: 24h

ruler:
  alertmanager_url: http://localhost:9093
`

// standInImages are the images the Docker target runs that no registry here serves (all
// but the proxies', proxy_image_test.go), and the test's probe.
func standInImages() []standInImage {
	return []standInImage{chromaStandIn(), grafanaStandIn(), lokiStandIn(), vectorStandIn(),
		llmServeStandIn(), coreStandIn(), dashboardStandIn(), probeStandIn()}
}

// chromaStandIn is chromadb/chroma:0.6.3 (chroma-core/chroma tag 0.6.3, Dockerfile
// L41-67): python:3.11-slim-bookworm, no USER (root), WORKDIR /chroma made by root and the
// source tree copied into it without --chown (root-owned 0755, so chroma.log cannot be
// created there by another user or on a read-only root), the entrypoint and the one-string
// CMD it expands, the CHROMA_* defaults, port 8000.
func chromaStandIn() standInImage {
	var r rootFS
	r.base(debianPasswd, debianGroup)
	r.dir("/chroma", 0o755, 0, 0)
	r.dir("/chroma/chromadb", 0o755, 0, 0)
	r.file("/chroma/chromadb/log_config.yml", 0o644, 0, 0, chromaLogConfig)
	r.standIn("/docker_entrypoint.sh")
	r.link("/usr/local/bin/uvicorn", "/docker_entrypoint.sh")
	return standInImage{
		Ref: chromaImage, WorkingDir: "/chroma",
		Entrypoint: []string{"/docker_entrypoint.sh"},
		Cmd:        []string{"--workers ${CHROMA_WORKERS} --host ${CHROMA_HOST_ADDR} --port ${CHROMA_HOST_PORT} --proxy-headers --log-config ${CHROMA_LOG_CONFIG} --timeout-keep-alive ${CHROMA_TIMEOUT_KEEP_ALIVE}"},
		Env: []string{pythonPath, "LANG=C.UTF-8", "CHROMA_HOST_ADDR=0.0.0.0", "CHROMA_HOST_PORT=8000", "CHROMA_WORKERS=1",
			"CHROMA_LOG_CONFIG=chromadb/log_config.yml", "CHROMA_TIMEOUT_KEEP_ALIVE=30"},
		ExposedPorts: []string{"8000/tcp"},
		Files:        r.files,
		Cannot: "no bash, python or curl in the image (the entrypoint is the stand-in binary); embeddings, queries and HNSW segment files; " +
			"telemetry; RLIMIT_NOFILE; basic auth and authz providers; .ini log configs; SQLite itself (chroma.sqlite3 holds the stand-in's JSON after the SQLite header) and its journal and temp files",
	}
}

// grafanaStandIn is grafana/grafana:13.2.0 as its Dockerfile lays it out (read from the
// code index, not at the 13.2.0 tag): user 472 in group 0 (root), WORKDIR
// /usr/share/grafana, the GF_PATHS_* environment, the provisioning subdirectories, logs,
// plugins and data made and then `chown -R grafana:root` and `chmod -R 777`, grafana.ini
// copied from conf/sample.ini, ENTRYPOINT /run.sh, port 3000.
func grafanaStandIn() standInImage {
	var r rootFS
	r.base("root:x:0:0:root:/root:/bin/sh\ngrafana:x:472:0::/home/grafana:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n",
		"root:x:0:root\nnogroup:x:65533:\nnobody:x:65534:\n")
	r.dir("/usr/share/grafana", 0o755, 0, 0)
	r.dir("/usr/share/grafana/conf", 0o755, 0, 0)
	r.file("/usr/share/grafana/conf/defaults.ini", 0o644, 0, 0,
		"; stand-in for Grafana's conf/defaults.ini: its settings are not reproduced; the stand-in reads only GF_* overrides\n")
	r.file("/usr/share/grafana/conf/sample.ini", 0o644, 0, 0, "; stand-in for Grafana's conf/sample.ini (every setting commented out)\n")
	r.dir("/usr/share/grafana/.aws", 0o777, 472, 0)
	r.dir("/usr/share/grafana/bin", 0o755, 0, 0)
	r.link("/usr/share/grafana/bin/grafana", "/run.sh")
	r.dir("/etc/grafana", 0o755, 0, 0)
	r.file("/etc/grafana/grafana.ini", 0o644, 0, 0, "; stand-in for Grafana's conf/sample.ini (every setting commented out)\n")
	r.dir("/etc/grafana/provisioning", 0o777, 472, 0)
	for _, d := range []string{"datasources", "dashboards", "notifiers", "plugins", "access-control", "alerting"} {
		r.dir("/etc/grafana/provisioning/"+d, 0o777, 472, 0)
	}
	r.dir("/var/lib/grafana", 0o777, 472, 0)
	r.dir("/var/lib/grafana/plugins", 0o777, 472, 0)
	r.dir("/var/log/grafana", 0o777, 472, 0)
	r.standIn("/run.sh")
	return standInImage{
		Ref: grafanaImage, User: "472", WorkingDir: "/usr/share/grafana",
		Entrypoint: []string{"/run.sh"},
		Env: []string{"PATH=/usr/share/grafana/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			"GF_PATHS_CONFIG=/etc/grafana/grafana.ini", "GF_PATHS_DATA=/var/lib/grafana", "GF_PATHS_HOME=/usr/share/grafana",
			"GF_PATHS_LOGS=/var/log/grafana", "GF_PATHS_PLUGINS=/var/lib/grafana/plugins", "GF_PATHS_PROVISIONING=/etc/grafana/provisioning"},
		ExposedPorts: []string{"3000/tcp"},
		Files:        r.files,
		Cannot: "no shell, bash, curl or wget (run.sh is the stand-in binary); grafana.ini and defaults.ini settings (only GF_* overrides); " +
			"dashboards, alerting, plugins and their preinstall; sessions and the login page; SQLite (grafana.db holds the stand-in's JSON after the SQLite header); " +
			"the Dockerfile and run.sh were read from the code index, not at the 13.2.0 tag",
	}
}

// lokiStandIn is grafana/loki:3.7.6 (grafana/loki tag v3.7.6, cmd/loki/Dockerfile
// L10-32): distroless static (no shell), /etc/passwd and /etc/group from the build stage
// with loki 10001:10001, /etc/loki and /loki (rules, rules-temp) owned by 10001, USER
// 10001, WORKDIR /, port 3100.
func lokiStandIn() standInImage {
	var r rootFS
	r.base(debianPasswd+"loki:x:10001:10001:,,,:/home/loki:/bin/bash\n", debianGroup+"loki:x:10001:\n")
	r.dir("/etc/loki", 0o755, 10001, 10001)
	r.file("/etc/loki/local-config.yaml", 0o644, 10001, 10001, lokiDefaultConfig)
	r.dir("/loki", 0o755, 10001, 10001)
	r.dir("/loki/rules", 0o755, 10001, 10001)
	r.dir("/loki/rules-temp", 0o755, 10001, 10001)
	r.standIn("/usr/bin/loki")
	return standInImage{
		Ref: lokiImage, User: "10001", WorkingDir: "/",
		Entrypoint:   []string{"/usr/bin/loki"},
		Cmd:          []string{"-config.file=/etc/loki/local-config.yaml"},
		Env:          []string{distrolessPath, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		ExposedPorts: []string{"3100/tcp"},
		Files:        r.files,
		Cannot: "protobuf+snappy pushes (Vector's default; answered 415); LogQL beyond stream selectors and line filters; the ring, memberlist and gRPC on 9095; " +
			"chunk and index files (pushed lines go to <chunks>/standin-streams.jsonl); the ruler; flags other than -config.file, -config.expand-env, -health, -health.url and -version (accepted and ignored)",
	}
}

// vectorStandIn is timberio/vector:0.56.0-distroless-libc (vectordotdev/vector tag
// v0.56.0, distribution/docker/distroless-libc/Dockerfile L18-35): distroless cc, no USER
// (root), no WORKDIR, ENTRYPOINT /usr/bin/vector and no CMD, /etc/vector without a
// vector.yaml, /var/lib/vector (made by the builder stage, L8; its owner in the published
// image is not verified: root is assumed), no port.
func vectorStandIn() standInImage {
	var r rootFS
	r.base(distrolessPasswd, distrolessGroup)
	r.dir("/etc/vector", 0o755, 0, 0)
	r.dir("/etc/vector/examples", 0o755, 0, 0)
	r.dir("/usr/share/vector", 0o755, 0, 0)
	r.dir("/usr/share/doc/vector", 0o755, 0, 0)
	r.dir("/var/lib/vector", 0o755, 0, 0)
	r.standIn("/usr/bin/vector")
	return standInImage{
		Ref:        vectorImage,
		Entrypoint: []string{"/usr/bin/vector"},
		Env:        []string{distrolessPath, "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"},
		Files:      r.files,
		Cannot: "sources, transforms and sinks other than docker_logs and loki; protobuf+snappy pushes (always JSON, as compression none); " +
			"Docker's events stream (the containers are listed every 2 s); partial-message merging; buffers and acknowledgements; TOML configs; " +
			"the owner of /var/lib/vector in the published image",
	}
}

// laminaAccounts are the user and group the Lamina images create, 1000:1000 (the
// program runs them so: stacks/config/profiles.go, var lamina).
const (
	laminaPasswd = debianPasswd + "lamina:x:1000:1000::/home/lamina:/usr/sbin/nologin\n"
	laminaGroup  = debianGroup + "lamina:x:1000:\n"
)

// laminaCannot is what no Lamina stand-in shows: there is no upstream source of these
// images here (their Dockerfiles are in the Lamina OS checkout).
const laminaCannot = "no upstream source of this image is available here, so its layout (user, workdir, entrypoint) and behaviour are the program's expectations, not the image's; " +
	"no shell or Python in the image; "

// llmServeStandIn is lamina-llm-serve: the server in /app reading /app/models.yaml and
// keeping models in /app/models (llmserve.Manifest, llmserve.ModelsDir), port 8000 in its
// CMD (llmserve.Port), llama-server on the PATH (llmserve.VulkanCheck).
func llmServeStandIn() standInImage {
	var r rootFS
	r.base(laminaPasswd, laminaGroup)
	r.dir("/app", 0o755, 1000, 1000)
	r.dir("/app/models", 0o755, 1000, 1000)
	r.standIn("/usr/local/bin/entrypoint")
	r.link("/usr/local/bin/llama-server", "entrypoint")
	return standInImage{
		Ref: llmServeImage, User: "1000", WorkingDir: "/app",
		Entrypoint:   []string{"/usr/local/bin/entrypoint"},
		Cmd:          []string{"--host", "0.0.0.0", "--port", "8000"},
		Env:          []string{pythonPath, "PYTHONUNBUFFERED=1"},
		ExposedPorts: []string{"8000/tcp"},
		Files:        r.files,
		Cannot: laminaCannot + "no model runs (a fixed chat completion answers); llama-server --list-devices lists no device; " +
			"llmserve.VulkanCheck runs /bin/sh, which this image lacks, so the GPU check fails to start rather than failing its test",
	}
}

// coreStandIn is lamina-core: `python -m lamina.api.unified_server` (the program's command,
// components/core/core.go), port 8080.
func coreStandIn() standInImage {
	var r rootFS
	r.base(laminaPasswd, laminaGroup)
	r.dir("/app", 0o755, 1000, 1000)
	r.standIn("/usr/local/bin/python")
	r.link("/usr/local/bin/python3", "python")
	return standInImage{
		Ref: coreImage, User: "1000", WorkingDir: "/app",
		Cmd:          []string{"python", "-m", coreModule, "--host", "0.0.0.0", "--port", "8080"},
		Env:          []string{pythonPath, "PYTHONUNBUFFERED=1"},
		ExposedPorts: []string{"8080/tcp"},
		Files:        r.files,
		Cannot:       laminaCannot + "no agent runs: /health, /api/agents, /api/check (calls llm-serve's /health and ChromaDB's collections) and /api/chat (relays to llm-serve)",
	}
}

// dashboardStandIn is lamina-dashboard on port 5001 (components/dashboard/dashboard.go);
// its module name is this stand-in's assumption.
func dashboardStandIn() standInImage {
	var r rootFS
	r.base(laminaPasswd, laminaGroup)
	r.dir("/app", 0o755, 1000, 1000)
	r.standIn("/usr/local/bin/python")
	r.link("/usr/local/bin/python3", "python")
	return standInImage{
		Ref: dashboardImage, User: "1000", WorkingDir: "/app",
		Cmd:          []string{"python", "-m", dashboardModule},
		Env:          []string{pythonPath, "PYTHONUNBUFFERED=1"},
		ExposedPorts: []string{"5001/tcp"},
		Files:        r.files,
		Cannot:       laminaCannot + "no cluster reads or Prometheus queries: / (a page) and /api/agents (relayed from LAMINA_API_URL) only",
	}
}

// probeStandIn is the test's client: the binary alone, as nobody.
func probeStandIn() standInImage {
	var r rootFS
	r.base(distrolessPasswd, distrolessGroup)
	r.standIn("/usr/local/bin/probe")
	return standInImage{
		Ref: probeImage, User: "65534", WorkingDir: "/",
		Entrypoint: []string{"/usr/local/bin/probe"},
		Env:        []string{distrolessPath},
		Files:      r.files,
		Cannot:     "it imitates no image",
	}
}

// unixMode is the tar header's mode of m: the permissions and the sticky, setuid and
// setgid bits, given either as os.Mode* or as their Unix values.
func unixMode(m os.FileMode) int64 {
	mode := int64(m & 0o7777)
	if m&os.ModeSticky != 0 {
		mode |= 0o1000
	}
	if m&os.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&os.ModeSetuid != 0 {
		mode |= 0o4000
	}
	return mode
}

// entries are the image's files, a later entry for a path replacing an earlier one, each
// missing parent added as a root-owned 0755 directory, parents before children.
func (im standInImage) entries() ([]imageFile, error) {
	byPath := map[string]imageFile{}
	for _, f := range im.Files {
		if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path || f.Path == "/" {
			return nil, fmt.Errorf("image %s: %q is not a clean absolute path", im.Ref, f.Path)
		}
		kinds := 0
		for _, b := range []bool{f.Dir, f.Link != "", f.FromStandIn} {
			if b {
				kinds++
			}
		}
		if kinds > 1 || kinds == 1 && f.Content != nil {
			return nil, fmt.Errorf("image %s: %s is more than one of a directory, a link, the stand-in and a file", im.Ref, f.Path)
		}
		byPath[f.Path] = f
	}
	for p := range byPath {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if parent, ok := byPath[d]; !ok {
				byPath[d] = imageFile{Path: d, Dir: true, Mode: 0o755}
			} else if !parent.Dir {
				return nil, fmt.Errorf("image %s: %s is under %s, which is not a directory", im.Ref, p, d)
			}
		}
	}
	out := make([]imageFile, 0, len(byPath))
	for _, f := range byPath {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b imageFile) int {
		return slices.Compare(strings.Split(a.Path, "/"), strings.Split(b.Path, "/"))
	})
	return out, nil
}

// rootfs is the image's root file system as a tar stream: exact owners and modes, parents
// first, the stand-in binary's bytes where the image has it.
func (im standInImage) rootfs(standin []byte) (io.Reader, error) {
	files, err := im.entries()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		h := &tar.Header{Name: strings.TrimPrefix(f.Path, "/"), Uid: f.UID, Gid: f.GID, ModTime: mtime, Format: tar.FormatPAX}
		switch {
		case f.Dir:
			h.Typeflag, h.Name, h.Mode = tar.TypeDir, h.Name+"/", unixMode(f.Mode)
			if f.Mode == 0 {
				h.Mode = 0o755
			}
		case f.Link != "":
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, f.Link, 0o777
		default:
			content := f.Content
			if f.FromStandIn {
				if len(standin) == 0 {
					return nil, fmt.Errorf("image %s: %s is the stand-in binary, and none was given", im.Ref, f.Path)
				}
				content = standin
			}
			h.Typeflag, h.Size, h.Mode = tar.TypeReg, int64(len(content)), unixMode(f.Mode)
			if f.Mode == 0 {
				h.Mode = 0o644
			}
			if err := tw.WriteHeader(h); err != nil {
				return nil, err
			}
			if _, err := tw.Write(content); err != nil {
				return nil, err
			}
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// dockerfileValue quotes an ENV value for a Dockerfile instruction where it needs it.
func dockerfileValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " \t\"'\\$") {
		return v
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`).Replace(v) + `"`
}

// changes are the image's configuration as Dockerfile instructions for `docker import
// --change`: USER, WORKDIR, ENTRYPOINT and CMD (JSON form: no shell, and CMD's ${...}
// left for the entrypoint, as in the upstream Dockerfiles), ENV, EXPOSE.
func (im standInImage) changes() []string {
	var out []string
	if im.User != "" {
		out = append(out, "USER "+im.User)
	}
	if im.WorkingDir != "" {
		out = append(out, "WORKDIR "+im.WorkingDir)
	}
	jsonForm := func(words []string) string {
		b, _ := json.Marshal(words)
		return string(b)
	}
	if len(im.Entrypoint) > 0 {
		out = append(out, "ENTRYPOINT "+jsonForm(im.Entrypoint))
	}
	if len(im.Cmd) > 0 {
		out = append(out, "CMD "+jsonForm(im.Cmd))
	}
	for _, kv := range im.Env {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, "ENV "+k+"="+dockerfileValue(v))
	}
	for _, p := range im.ExposedPorts {
		out = append(out, "EXPOSE "+p)
	}
	return out
}

// buildStandIn builds the stand-in binary, static (CGO_ENABLED=0), into dir and returns
// its path.
func buildStandIn(t testing.TB, dir string) string {
	t.Helper()
	out, err := buildStandInBinary(dir)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// buildStandInBinary is buildStandIn for callers without a testing.TB (the engine test's
// world, built once for all its scenarios).
func buildStandInBinary(dir string) (string, error) {
	out, err := filepath.Abs(filepath.Join(dir, "standin"))
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, "./standin")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the stand-in binary: %w\n%s", err, b)
	}
	return out, nil
}

// tarEntry is an entry read back from a root file system.
type tarEntry struct {
	hdr     *tar.Header
	content []byte
}

func readRootFS(t *testing.T, im standInImage) (map[string]tarEntry, []string) {
	t.Helper()
	r, err := im.rootfs([]byte("#!stand-in\n"))
	if err != nil {
		t.Fatalf("%s: %v", im.Ref, err)
	}
	entries := map[string]tarEntry{}
	var order []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", im.Ref, err)
		}
		data, _ := io.ReadAll(tr)
		p := "/" + strings.TrimSuffix(h.Name, "/")
		entries[p] = tarEntry{h, data}
		order = append(order, p)
	}
	return entries, order
}

// resolve follows symbolic links inside the file system.
func resolve(entries map[string]tarEntry, p string) (tarEntry, bool) {
	for range 10 {
		e, ok := entries[p]
		if !ok || e.hdr.Typeflag != tar.TypeSymlink {
			return e, ok
		}
		if target := e.hdr.Linkname; path.IsAbs(target) {
			p = target
		} else {
			p = path.Join(path.Dir(p), target)
		}
	}
	return tarEntry{}, false
}

// programImages reads the images the program's configuration names from
// stacks/config/profiles.go: chroma()'s Image, dockerDefaults()' Grafana, Loki and Vector.
func programImages(t *testing.T) map[string]string {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "stacks", "config", "profiles.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	literal := func(e ast.Expr) (string, bool) {
		if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
			s, err := strconv.Unquote(lit.Value)
			return s, err == nil
		}
		return "", false
	}
	for _, decl := range file.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "chroma" && fn.Name.Name != "dockerDefaults" {
			continue
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			kv, ok := n.(*ast.KeyValueExpr)
			if !ok {
				return true
			}
			key, _ := kv.Key.(*ast.Ident)
			if key == nil {
				return true
			}
			if fn.Name.Name == "chroma" && key.Name == "Image" {
				if s, ok := literal(kv.Value); ok {
					out["chroma"] = s
				}
			}
			if fn.Name.Name == "dockerDefaults" && (key.Name == "Grafana" || key.Name == "Loki" || key.Name == "Vector") {
				if cl, ok := kv.Value.(*ast.CompositeLit); ok {
					for _, elt := range cl.Elts {
						if inner, ok := elt.(*ast.KeyValueExpr); ok {
							if ik, _ := inner.Key.(*ast.Ident); ik != nil && ik.Name == "Image" {
								if s, ok := literal(inner.Value); ok {
									out[strings.ToLower(key.Name)] = s
								}
							}
						}
					}
				}
			}
			return true
		})
	}
	return out
}

// TestStandInImagesAreWhatTheUpstreamImagesAre checks, without Docker, what the stand-in
// images' file systems and configurations must share with the upstream images (and the
// references with the program's).
func TestStandInImagesAreWhatTheUpstreamImagesAre(t *testing.T) {
	images := map[string]standInImage{}
	for _, im := range standInImages() {
		if _, dup := images[im.Ref]; dup {
			t.Errorf("two stand-ins for %s", im.Ref)
		}
		images[im.Ref] = im
	}

	// The references are the program's.
	want := programImages(t)
	for name, ref := range map[string]string{"chroma": chromaImage, "grafana": grafanaImage, "loki": lokiImage, "vector": vectorImage} {
		if want[name] != ref {
			t.Errorf("stacks/config/profiles.go names the %s image %q; the stand-in is %q", name, want[name], ref)
		}
	}
	stackTest, err := os.ReadFile("stack_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{llmServeImage, coreImage, dashboardImage} {
		if !strings.Contains(string(stackTest), strconv.Quote(ref)) {
			t.Errorf("stack_test.go's configure no longer sets %s", ref)
		}
	}
	// The Lamina images' modules are the binary's, and core's is the program's command.
	lamina, err := os.ReadFile(filepath.Join("standin", "lamina.go"))
	if err != nil {
		t.Fatal(err)
	}
	coreGo, err := os.ReadFile(filepath.Join(root, "components", "core", "core.go"))
	if err != nil {
		t.Fatal(err)
	}
	for name, module := range map[string]string{"coreModule": coreModule, "dashboardModule": dashboardModule} {
		m := regexp.MustCompile(name + `\s*=\s*"([^"]+)"`).FindSubmatch(lamina)
		if m == nil || string(m[1]) != module {
			t.Errorf("standin/lamina.go's %s is %q; the images run %q", name, m, module)
		}
	}
	if !strings.Contains(string(coreGo), strconv.Quote(coreModule)) {
		t.Errorf("components/core/core.go no longer runs python -m %s", coreModule)
	}
	for _, ref := range []string{chromaImage, grafanaImage, lokiImage, vectorImage, llmServeImage, coreImage, dashboardImage, probeImage} {
		if _, ok := images[ref]; !ok {
			t.Errorf("no stand-in image for %s", ref)
		}
	}

	type owned struct {
		path     string
		dir      bool
		uid, gid int
		mode     int64
	}
	facts := map[string][]owned{
		// chroma-core/chroma 0.6.3 Dockerfile L44-45, L56: root-owned, not writable by others.
		chromaImage: {{"/chroma", true, 0, 0, 0o755}, {"/chroma/chromadb/log_config.yml", false, 0, 0, 0o644}},
		// Grafana's Dockerfile: chown -R grafana:root, chmod -R 777.
		grafanaImage: {{"/var/lib/grafana", true, 472, 0, 0o777}, {"/var/lib/grafana/plugins", true, 472, 0, 0o777},
			{"/var/log/grafana", true, 472, 0, 0o777}, {"/etc/grafana/provisioning/datasources", true, 472, 0, 0o777},
			{"/usr/share/grafana", true, 0, 0, 0o755}},
		// cmd/loki/Dockerfile L13-17, L23-24.
		lokiImage: {{"/loki", true, 10001, 10001, 0o755}, {"/loki/rules-temp", true, 10001, 10001, 0o755},
			{"/etc/loki", true, 10001, 10001, 0o755}, {"/etc/loki/local-config.yaml", false, 10001, 10001, 0o644}},
		vectorImage:   {{"/etc/vector", true, 0, 0, 0o755}, {"/var/lib/vector", true, 0, 0, 0o755}},
		llmServeImage: {{"/app/models", true, 1000, 1000, 0o755}},
	}
	for _, im := range standInImages() {
		entries, order := readRootFS(t, im)
		// Parents before children.
		seen := map[string]bool{}
		for _, p := range order {
			if d := path.Dir(p); d != "/" && !seen[d] {
				t.Errorf("%s: %s comes before its directory %s", im.Ref, p, d)
			}
			seen[p] = true
		}
		if tmp := entries["/tmp"]; tmp.hdr == nil || tmp.hdr.Typeflag != tar.TypeDir || tmp.hdr.Mode != 0o1777 {
			t.Errorf("%s: /tmp is not a 1777 directory", im.Ref)
		}
		if _, ok := entries["/etc/passwd"]; !ok {
			t.Errorf("%s: no /etc/passwd", im.Ref)
		}
		// What the image runs is there and executable.
		run := im.Entrypoint
		if len(run) == 0 {
			run = im.Cmd
		}
		exe := run[0]
		if !path.IsAbs(exe) {
			exe = "/usr/local/bin/" + exe
		}
		if e, ok := resolve(entries, exe); !ok || e.hdr.Typeflag != tar.TypeReg || e.hdr.Mode&0o111 != 0o111 {
			t.Errorf("%s: %s, which it runs, is not an executable file", im.Ref, run[0])
		}
		for _, f := range facts[im.Ref] {
			e, ok := entries[f.path]
			if !ok {
				t.Errorf("%s: no %s", im.Ref, f.path)
				continue
			}
			if (e.hdr.Typeflag == tar.TypeDir) != f.dir || e.hdr.Uid != f.uid || e.hdr.Gid != f.gid || e.hdr.Mode != f.mode {
				t.Errorf("%s: %s is %d:%d %o (dir %v), want %d:%d %o (dir %v)", im.Ref, f.path,
					e.hdr.Uid, e.hdr.Gid, e.hdr.Mode, e.hdr.Typeflag == tar.TypeDir, f.uid, f.gid, f.mode, f.dir)
			}
		}
		if _, ok := entries["/bin/sh"]; ok {
			t.Errorf("%s: has /bin/sh; no stand-in image has a shell, and a test passing through one would pass where the image has none", im.Ref)
		}
		if im.Cannot == "" {
			t.Errorf("%s: says nothing about what it cannot show", im.Ref)
		}

		switch im.Ref {
		case chromaImage:
			// The shipped log config writes chroma.log relative to the working directory,
			// from the root logger (chromadb/log_config.yml L26-33).
			var cfg struct {
				Handlers map[string]map[string]any `json:"handlers"`
				Loggers  map[string]struct {
					Handlers []string `json:"handlers"`
				} `json:"loggers"`
			}
			if err := yaml.Unmarshal(entries["/chroma/chromadb/log_config.yml"].content, &cfg); err != nil {
				t.Fatal(err)
			}
			file := cfg.Handlers["file"]
			if file["filename"] != "chroma.log" || file["class"] != "logging.handlers.RotatingFileHandler" || !slices.Contains(cfg.Loggers["root"].Handlers, "file") {
				t.Errorf("%s: log_config.yml's root logger does not write chroma.log through a RotatingFileHandler: %v", im.Ref, cfg)
			}
			if im.User != "" || im.WorkingDir != "/chroma" || !slices.Contains(im.Env, "CHROMA_LOG_CONFIG=chromadb/log_config.yml") {
				t.Errorf("%s: user %q, workdir %q, env %v; want root, /chroma, CHROMA_LOG_CONFIG=chromadb/log_config.yml", im.Ref, im.User, im.WorkingDir, im.Env)
			}
			if len(im.Cmd) != 1 || !strings.Contains(im.Cmd[0], "--log-config ${CHROMA_LOG_CONFIG}") {
				t.Errorf("%s: CMD %q; upstream it is one string the entrypoint expands", im.Ref, im.Cmd)
			}
			if ch := im.changes(); !slices.Contains(ch, `ENTRYPOINT ["/docker_entrypoint.sh"]`) || !slices.Contains(ch, "WORKDIR /chroma") || slices.ContainsFunc(ch, func(c string) bool { return strings.HasPrefix(c, "USER ") }) {
				t.Errorf("%s: changes %q", im.Ref, ch)
			}
		case grafanaImage:
			if im.User != "472" || !slices.Contains(im.Env, "GF_PATHS_DATA=/var/lib/grafana") || !slices.Equal(im.Entrypoint, []string{"/run.sh"}) {
				t.Errorf("%s: user %q, env %v, entrypoint %v", im.Ref, im.User, im.Env, im.Entrypoint)
			}
		case lokiImage:
			if im.User != "10001" || im.WorkingDir != "/" || !slices.Contains(im.changes(), "USER 10001") {
				t.Errorf("%s: user %q, workdir %q; want 10001 and / (cmd/loki/Dockerfile L28-29)", im.Ref, im.User, im.WorkingDir)
			}
			var cfg map[string]any
			if err := yaml.Unmarshal(entries["/etc/loki/local-config.yaml"].content, &cfg); err != nil || cfg["common"].(map[string]any)["path_prefix"] != "/loki" {
				t.Errorf("%s: the default config's path_prefix is not /loki (%v)", im.Ref, err)
			}
		case vectorImage:
			if _, ok := entries["/etc/vector/vector.yaml"]; ok {
				t.Errorf("%s: ships /etc/vector/vector.yaml, which the image does not (scripts/verify-install.sh L29)", im.Ref)
			}
			if im.User != "" || len(im.Cmd) != 0 {
				t.Errorf("%s: user %q, cmd %v; upstream: root and no CMD", im.Ref, im.User, im.Cmd)
			}
		}
	}

	// ENV values that need it are quoted for the Dockerfile parser.
	if got := dockerfileValue(`a "b" $c`); got != `"a \"b\" \$c"` {
		t.Errorf("dockerfileValue quotes as %s", got)
	}
}
