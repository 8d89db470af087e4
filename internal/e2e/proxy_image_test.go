package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
)

// proxyImage is the program's proxy image (lamina:docker.proxyImage,
// nginxinc/nginx-unprivileged:1.28-alpine) made from the real nginx of this machine
// (Debian's 1.22, which .ci/run installs) and busybox, laid out as the upstream image lays
// itself out (nginx/docker-nginx-unprivileged tag 1.28.3, stable/alpine-slim/Dockerfile):
//
//   - user 101 (nginx), group 101; /etc/nginx and /var/cache/nginx owned by 101:0 and
//     group-writable (L107-110); /tmp left at 1777 (the Dockerfile does not touch it);
//   - /var/log/nginx/access.log and error.log are /dev/stdout and /dev/stderr (L96-97):
//     nginx opens its compiled-in error log before it reads any configuration;
//   - busybox's sh and wget, which the proxies' health check runs (L34 runs wget);
//   - ENTRYPOINT /docker-entrypoint.sh with CMD nginx -g "daemon off;" (L117-121): the
//     entrypoint runs /docker-entrypoint.d only when $1 is nginx; its first script
//     (10-listen-on-ipv6-by-default.sh L27) only says "can not modify" where
//     /etc/nginx/conf.d/default.conf cannot be touched (a read-only root) and goes on.
//
// It cannot show: Alpine's musl and nginx 1.28's own behaviour (this is Debian's glibc
// nginx 1.22, whose configuration language the proxies' nginx.conf keeps to), and the
// envsubst and worker-tuning scripts, which do nothing unless their variables are set.
func proxyImage(ref string) (standInImage, error) {
	var r rootFS
	r.base("root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n",
		"root:x:0:\nnginx:x:101:nginx\nnogroup:x:65534:\n")
	for _, d := range []string{"/docker-entrypoint.d", "/dev", "/proc", "/sys", "/run"} {
		r.dir(d, 0o755, 0, 0)
	}
	r.dir("/etc/nginx", 0o775, 101, 0)
	r.dir("/etc/nginx/conf.d", 0o775, 101, 0)
	r.dir("/var/cache/nginx", 0o775, 101, 0)
	r.dir("/var/log/nginx", 0o755, 0, 0)
	r.link("/var/log/nginx/access.log", "/dev/stdout")
	r.link("/var/log/nginx/error.log", "/dev/stderr")
	r.file("/etc/nginx/conf.d/default.conf", 0o664, 101, 0, "server {\n    listen 8080;\n    location / { return 200; }\n}\n")
	mime, err := os.ReadFile("/etc/nginx/mime.types")
	if err != nil {
		return standInImage{}, fmt.Errorf("nginx's mime.types (apt-get install nginx): %w", err)
	}
	r.file("/etc/nginx/mime.types", 0o664, 101, 0, string(mime))
	r.file("/docker-entrypoint.sh", 0o755, 0, 0, `#!/bin/sh
# The upstream entrypoint's shape (docker-nginx-unprivileged 1.28.3, entrypoint/docker-entrypoint.sh):
# the scripts in /docker-entrypoint.d run only when the command is nginx, then it execs it.
set -e
if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
  for f in /docker-entrypoint.d/*.sh; do
    [ -x "$f" ] && "$f"
  done
fi
exec "$@"
`)
	r.file("/docker-entrypoint.d/10-listen-on-ipv6-by-default.sh", 0o755, 0, 0, `#!/bin/sh
# What the upstream script does on a read-only root (L27): it cannot touch default.conf,
# says so and exits 0.
touch /etc/nginx/conf.d/default.conf 2>/dev/null || {
  echo "10-listen-on-ipv6-by-default.sh: info: can not modify /etc/nginx/conf.d/default.conf (read-only file system?)"
  exit 0
}
`)
	if err := r.hostBinary("/usr/sbin/nginx", "nginx"); err != nil {
		return standInImage{}, err
	}
	if err := r.hostBinary("/bin/busybox", "busybox"); err != nil {
		return standInImage{}, err
	}
	for _, applet := range []string{"/bin/sh", "/usr/bin/wget", "/bin/cat", "/bin/touch", "/bin/ls", "/bin/sleep"} {
		r.link(applet, "/bin/busybox")
	}
	return standInImage{
		Ref: ref, User: "101", WorkingDir: "/",
		Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"nginx", "-g", "daemon off;"},
		Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		ExposedPorts: []string{"8080/tcp"},
		Files:        r.files,
		Cannot:       "Alpine's musl and nginx 1.28 (this is Debian's nginx 1.22); the envsubst and worker-tuning entrypoint scripts",
	}, nil
}

var lddLine = regexp.MustCompile(`(?:=> )?(/[^ ]+) \(0x`)

// sharedLibraries are the libraries ldd says binary loads, the loader among them; none
// for a static binary (busybox-static).
func sharedLibraries(binary string) ([]string, error) {
	out, err := exec.Command("ldd", binary).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") {
			return nil, nil
		}
		return nil, fmt.Errorf("ldd %s: %w: %s", binary, err, out)
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		// Each under its soname, with its target's content (the image needs no links).
		if m := lddLine.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			libs = append(libs, m[1])
		}
	}
	return libs, nil
}
