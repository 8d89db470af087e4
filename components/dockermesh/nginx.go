// Package dockermesh is the Docker target's service mesh: each service sits behind an
// nginx proxy of its own that accepts only mutual TLS from the services allowed to call
// it, and turns the service's own plain requests to other services into mutual TLS with
// the service's certificate. Every certificate comes from one local CA, generated once on
// the Mac with openssl and kept, secret, in the Pulumi state.
//
// A service's container is on a private network whose only other member is its proxy;
// the proxies meet on the mesh network. So a service is reached only through its proxy,
// and reaches other services only through it, as Istio's sidecars do in Kubernetes.
package dockermesh

import (
	"bytes"
	_ "embed"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strconv"
	"text/template"

	"github.com/lamina-os/lamina-infra/internal/shell"
)

//go:embed ca.sh
var caPart string

//go:embed cert.sh
var certPart string

// CAScript prints a new CA's key and certificate; CertScript a service's, signed by it.
var (
	CAScript   = shell.Script("make the Docker mesh's certificate authority", caPart)
	CertScript = shell.Script("issue a Docker mesh certificate", certPart)
)

// Paths of the TLS files inside a proxy's container.
const (
	CertFile = "cert.pem"
	KeyFile  = "key.pem"
	CAFile   = "ca.pem"
)

// Proxy is one nginx proxy: a service's (Inbound, Outbound) or the edge's (Public,
// Outbound is then empty).
type Proxy struct {
	// Name is the service's name and its certificate's common name: its identity.
	Name string
	// TLSDir holds CertFile, KeyFile and CAFile; RunDir, writable, nginx's pid and
	// temporary files (/tmp in a container).
	TLSDir, RunDir string
	// Resolver is the DNS server names are resolved with, at request time: Docker's
	// embedded server (127.0.0.11) in a container. Empty: the routes give addresses.
	Resolver string
	// Inbound is mutual TLS from the mesh to the service, nil for the edge.
	Inbound *Inbound
	// Outbound are the services this one calls: plain HTTP from its container, mutual
	// TLS to the callee's proxy.
	Outbound []Route
	// Public are the edge's hostnames: TLS from the user's browser (the edge's
	// certificate, no client certificate), mutual TLS to each service's proxy.
	Public []Route
	// Listen is the address the edge's public server listens on, host:port.
	Listen string
	// Health is a loopback host:port where Docker's health check asks for /ready: ready
	// when nginx serves and, for a service with Inbound.HealthPath, when the app answers
	// it. Empty: no health server.
	Health string
}

// Inbound is where a proxy accepts the mesh's requests for its service.
type Inbound struct {
	// Listen is host:port on the mesh network (":8443" in a container).
	Listen string
	// App is the service's own URL on its private network (http://host:port).
	App string
	// Callers are the identities (common names) allowed to call the service.
	Callers []string
	// Streaming turns off response buffering, for token-by-token model output.
	Streaming bool
	// HealthPath is the app's health endpoint, which the proxy's /ready asks.
	HealthPath string
}

// Route is one service reached through the mesh.
type Route struct {
	// Name is the name the caller uses: the Host its requests carry (the service's name
	// for Outbound, a hostname for Public).
	Name string
	// Listen is where the caller's plain requests arrive, host:port (Outbound only).
	Listen string
	// Allow is the network the caller's requests come from (Outbound only): nothing else
	// may use this proxy's identity.
	Allow string
	// Target is the callee's proxy, host:port, and Service its identity: the name its
	// certificate must carry.
	Target, Service string
	// Headers are set on every request of the route (a token the callee requires, kept
	// out of the caller's environment). Values: letters, digits, spaces and ._~+/=:@,[]-
	// (nothing that ends nginx's quoted string or names a variable).
	Headers map[string]string
}

var (
	identity = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)
	hostname = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$`)
	appURL   = regexp.MustCompile(`^http://[a-z0-9.-]+:[0-9]{1,5}$`)
	pathOK   = regexp.MustCompile(`^/[A-Za-z0-9._/ -]*$`)
	// headerName and headerValue keep a header inside nginx's quoting.
	headerName  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,63}$`)
	headerValue = regexp.MustCompile(`^[A-Za-z0-9._~+/=:@,\[\] -]{0,1000}$`)
)

// validate refuses what would not make a safe configuration: names and addresses are
// pasted into nginx's syntax, so each is checked against a strict form first.
func (p Proxy) validate() error {
	if !identity.MatchString(p.Name) {
		return fmt.Errorf("proxy name %q: allowed: lower-case letters, digits and '-'", p.Name)
	}
	for _, dir := range []string{p.TLSDir, p.RunDir} {
		if !pathOK.MatchString(dir) {
			return fmt.Errorf("proxy %s: directory %q is not an absolute path", p.Name, dir)
		}
	}
	if p.Resolver != "" && net.ParseIP(p.Resolver) == nil {
		return fmt.Errorf("proxy %s: resolver %q is not an IP address", p.Name, p.Resolver)
	}
	if p.Inbound != nil && len(p.Public) > 0 || p.Inbound == nil && len(p.Public) == 0 && len(p.Outbound) == 0 {
		return fmt.Errorf("proxy %s: a service's proxy has an inbound side or outbound routes, the edge's public routes; not both or none", p.Name)
	}
	if in := p.Inbound; in != nil {
		if err := hostPort(in.Listen); err != nil {
			return fmt.Errorf("proxy %s: inbound listen: %w", p.Name, err)
		}
		if !appURL.MatchString(in.App) {
			return fmt.Errorf("proxy %s: app %q is not http://host:port", p.Name, in.App)
		}
		if len(in.Callers) == 0 {
			return fmt.Errorf("proxy %s: no caller may reach it; a service nothing calls needs no proxy", p.Name)
		}
		if in.HealthPath != "" && !pathOK.MatchString(in.HealthPath) {
			return fmt.Errorf("proxy %s: health path %q is not an absolute path", p.Name, in.HealthPath)
		}
		for _, c := range in.Callers {
			if !identity.MatchString(c) {
				return fmt.Errorf("proxy %s: caller %q is not an identity", p.Name, c)
			}
		}
	}
	if p.Health != "" {
		host, _, _ := net.SplitHostPort(p.Health)
		if ip := net.ParseIP(host); hostPort(p.Health) != nil || ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("proxy %s: health %q is not a loopback address and port: only the container's own health check may ask it", p.Name, p.Health)
		}
	}
	if len(p.Public) > 0 {
		if err := hostPort(p.Listen); err != nil {
			return fmt.Errorf("proxy %s: public listen: %w", p.Name, err)
		}
	}
	seen := map[string]bool{}
	for _, r := range append(slices.Clone(p.Outbound), p.Public...) {
		if !hostname.MatchString(r.Name) || !identity.MatchString(r.Service) {
			return fmt.Errorf("proxy %s: route %q to %q: allowed: a hostname, and a service's identity", p.Name, r.Name, r.Service)
		}
		if err := hostPort(r.Target); err != nil {
			return fmt.Errorf("proxy %s: route %s: target: %w", p.Name, r.Name, err)
		}
		key := r.Listen + " " + r.Name
		if seen[key] {
			return fmt.Errorf("proxy %s: route %s twice on %s", p.Name, r.Name, r.Listen)
		}
		seen[key] = true
	}
	for _, r := range p.Outbound {
		for k, v := range r.Headers {
			if !headerName.MatchString(k) || !headerValue.MatchString(v) {
				return fmt.Errorf("proxy %s: route %s: header %q: allowed: a token name, and a value of letters, digits, spaces and ._~+/=:@,[]-", p.Name, r.Name, k)
			}
		}
		if err := hostPort(r.Listen); err != nil {
			return fmt.Errorf("proxy %s: route %s: listen: %w", p.Name, r.Name, err)
		}
		if _, _, err := net.ParseCIDR(r.Allow); err != nil {
			return fmt.Errorf("proxy %s: route %s: allow %q is not a network (CIDR)", p.Name, r.Name, r.Allow)
		}
	}
	return nil
}

// hostPort checks an address host:port; the host may be empty (every address).
func hostPort(s string) error {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port", s)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q: port out of range", s)
	}
	if host != "" && net.ParseIP(host) == nil && !hostname.MatchString(host) {
		return fmt.Errorf("%q: host is neither an address nor a name", s)
	}
	return nil
}

// listens are the distinct addresses the outbound routes listen on, in order: each
// gets a default server that refuses a Host no route names.
func (p Proxy) listens() []string {
	var out []string
	for _, r := range p.Outbound {
		if !slices.Contains(out, r.Listen) {
			out = append(out, r.Listen)
		}
	}
	return out
}

// Config is the proxy's nginx.conf. It runs as any user (its temporary files and pid
// are in RunDir) and logs each request with the caller's identity.
func (p Proxy) Config() (string, error) {
	if err := p.validate(); err != nil {
		return "", err
	}
	var b bytes.Buffer
	err := nginxConf.Execute(&b, struct {
		Proxy
		Listens []string
	}{p, p.listens()})
	return b.String(), err
}

// upstream sends a route's request on to the callee's proxy as mutual TLS, checking
// that the callee is the service the route names.
var upstream = `{{define "upstream"}}
      set $lamina_upstream "https://{{.Target}}";
      proxy_pass $lamina_upstream;
      proxy_ssl_name {{.Service}};
      proxy_ssl_server_name on;
      proxy_set_header Host $host;
{{- end}}`

var nginxConf = template.Must(template.Must(template.New("nginx.conf").Parse(upstream)).Parse(`# nginx.conf of the Docker mesh's proxy for {{.Name}} (generated by the Lamina infrastructure program)
worker_processes 1;
pid {{.RunDir}}/nginx.pid;
error_log stderr notice;

events {
  worker_connections 512;
}

http {
  log_format mesh '$remote_addr "$ssl_client_s_dn" "$host" "$request" $status $body_bytes_sent $request_time';
  access_log /dev/stdout mesh;
  server_tokens off;
  client_body_temp_path {{.RunDir}}/nginx-client-body;
  proxy_temp_path {{.RunDir}}/nginx-proxy;
  fastcgi_temp_path {{.RunDir}}/nginx-fastcgi;
  uwsgi_temp_path {{.RunDir}}/nginx-uwsgi;
  scgi_temp_path {{.RunDir}}/nginx-scgi;
  client_max_body_size 64m;
{{- if .Resolver}}
  resolver {{.Resolver}} valid=10s ipv6=off;
{{- end}}
  ssl_protocols TLSv1.3;
  ssl_session_cache shared:tls:1m;

  # Every hop to another proxy is mutual TLS: this proxy's certificate, the callee's
  # checked against the mesh's CA and its identity.
  proxy_ssl_certificate {{.TLSDir}}/` + CertFile + `;
  proxy_ssl_certificate_key {{.TLSDir}}/` + KeyFile + `;
  proxy_ssl_trusted_certificate {{.TLSDir}}/` + CAFile + `;
  proxy_ssl_verify on;
  proxy_ssl_verify_depth 1;
  proxy_ssl_protocols TLSv1.3;
  proxy_ssl_session_reuse on;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_read_timeout 600s;
  proxy_send_timeout 600s;
{{- with .Inbound}}

  # Who may call {{$.Name}}: the identity in a client certificate the CA signed.
  map $ssl_client_s_dn $lamina_caller_allowed {
    default 0;
{{- range .Callers}}
    "CN={{.}}" 1;
{{- end}}
  }

  # Inbound: the mesh's requests for {{$.Name}}, mutual TLS only.
  server {
    listen {{.Listen}} ssl;
    ssl_certificate {{$.TLSDir}}/` + CertFile + `;
    ssl_certificate_key {{$.TLSDir}}/` + KeyFile + `;
    ssl_client_certificate {{$.TLSDir}}/` + CAFile + `;
    ssl_verify_client on;
    ssl_verify_depth 1;
    if ($lamina_caller_allowed = 0) {
      return 403;
    }
    location / {
      set $lamina_app "{{.App}}";
      proxy_pass $lamina_app;
      proxy_set_header Host $host;
      proxy_set_header X-Lamina-Caller $ssl_client_s_dn;
{{- if .Streaming}}
      proxy_buffering off;
{{- end}}
    }
  }
{{- end}}
{{- range $.Listens}}

  # Outbound on {{.}}: a Host no route names is refused.
  server {
    listen {{.}} default_server;
    return 421;
  }
{{- end}}
{{- range .Outbound}}

  # Outbound: {{$.Name}} calls {{.Service}} as http://{{.Name}}; it leaves as mutual TLS.
  server {
    listen {{.Listen}};
    server_name {{.Name}};
    allow {{.Allow}};
    deny all;
    location / {
{{- template "upstream" .}}
{{- range $k, $v := .Headers}}
      proxy_set_header {{$k}} "{{$v}}";
{{- end}}
      proxy_buffering off;
    }
  }
{{- end}}
{{- if .Public}}

  # Public: a hostname no route names is refused.
  server {
    listen {{.Listen}} ssl default_server;
    ssl_certificate {{.TLSDir}}/` + CertFile + `;
    ssl_certificate_key {{.TLSDir}}/` + KeyFile + `;
    return 421;
  }
{{- end}}
{{- range .Public}}

  # Public: https://{{.Name}}, served by {{.Service}}.
  server {
    listen {{$.Listen}} ssl;
    server_name {{.Name}};
    ssl_certificate {{$.TLSDir}}/` + CertFile + `;
    ssl_certificate_key {{$.TLSDir}}/` + KeyFile + `;
    location / {
{{- template "upstream" .}}
      proxy_set_header X-Forwarded-Proto https;
      proxy_buffering off;
    }
  }
{{- end}}
{{- if .Health}}

  # Health: Docker's health check, from inside the container. Ready when nginx serves
  # {{- if and .Inbound .Inbound.HealthPath}} and {{.Name}} answers {{.Inbound.HealthPath}}{{end}}.
  server {
    listen {{.Health}};
    allow 127.0.0.1;
    deny all;
    access_log off;
    location = /ready {
{{- if and .Inbound .Inbound.HealthPath}}
      set $lamina_app_health "{{.Inbound.App}}{{.Inbound.HealthPath}}";
      proxy_pass $lamina_app_health;
      proxy_connect_timeout 2s;
      proxy_read_timeout 5s;
{{- else}}
      return 200;
{{- end}}
    }
    location / {
      return 404;
    }
  }
{{- end}}
}
`))
