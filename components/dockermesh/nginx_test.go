package dockermesh_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/dockermesh"
	"github.com/lamina-os/lamina-infra/internal/tooltest"
)

// script runs one of the package's scripts as the command provider does: bash, its
// environment on top of the process's; it returns what the script printed.
func script(t *testing.T, text string, env map[string]string) string {
	t.Helper()
	cmd := exec.Command("/bin/bash", "-c", text)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, stderr.String())
	return string(out)
}

// authority is a CA made by CAScript with the real openssl.
type authority struct {
	bundle string // key, then certificate
	cert   string
}

func newAuthority(t *testing.T, name string) authority {
	t.Helper()
	tooltest.Find(t, "openssl", tooltest.OpenSSL)
	bundle := script(t, dockermesh.CAScript, map[string]string{"LAMINA_CA_NAME": name, "LAMINA_TLS_DAYS": "30"})
	_, cert, err := dockermesh.SplitPEM(bundle)
	require.NoError(t, err)
	return authority{bundle: bundle, cert: cert}
}

// issue makes name's certificate with CertScript and writes a proxy's TLS directory:
// its certificate and key, and the mesh CA's certificate (trusted), which may be
// another CA's than the signer's.
func (a authority) issue(t *testing.T, trusted authority, name string, dns ...string) string {
	t.Helper()
	out := script(t, dockermesh.CertScript, map[string]string{
		"LAMINA_CA": a.bundle, "LAMINA_CERT_NAME": name, "LAMINA_CERT_DNS": strings.Join(dns, "\n"), "LAMINA_TLS_DAYS": "30",
	})
	key, cert, err := dockermesh.SplitPEM(out)
	require.NoError(t, err)
	dir := t.TempDir()
	for file, text := range map[string]string{dockermesh.CertFile: cert, dockermesh.KeyFile: key, dockermesh.CAFile: trusted.cert} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(text), 0o600))
	}
	return dir
}

// client is what a TLS directory lets a program present.
func client(t *testing.T, dir, serverName string, withCert bool) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(dir, dockermesh.CAFile))
	require.NoError(t, err)
	require.True(t, pool.AppendCertsFromPEM(ca))
	cfg := &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS13}
	if withCert {
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, dockermesh.CertFile), filepath.Join(dir, dockermesh.KeyFile))
		require.NoError(t, err)
		cfg.Certificates = []tls.Certificate{pair}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// freeAddr is a loopback address with a port nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// run checks p's configuration with `nginx -t`, then runs it until the test ends,
// waiting for its listeners.
func run(t *testing.T, p dockermesh.Proxy, listens ...string) {
	t.Helper()
	nginx := tooltest.Find(t, "nginx", tooltest.Nginx)
	p.RunDir = t.TempDir()
	conf, err := p.Config()
	require.NoError(t, err)
	file := filepath.Join(p.RunDir, "nginx.conf")
	require.NoError(t, os.WriteFile(file, []byte(conf), 0o644))
	out, err := exec.Command(nginx, "-t", "-p", p.RunDir, "-c", file).CombinedOutput()
	require.NoError(t, err, "nginx -t of %s's proxy:\n%s\n%s", p.Name, out, conf)
	require.Contains(t, string(out), "test is successful")

	cmd := exec.Command(nginx, "-p", p.RunDir, "-c", file, "-g", "daemon off;")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("nginx of %s:\n%s", p.Name, log.String())
		}
	})
	for _, addr := range listens {
		require.Eventually(t, func() bool {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		}, 10*time.Second, 20*time.Millisecond, "%s's proxy listens on %s", p.Name, addr)
	}
}

// get requests url with host as the Host and returns the status and body.
func get(t *testing.T, c *http.Client, url, host string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Host = host
	resp, err := c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// The mesh on loopback, with certificates from the real scripts and the real nginx:
// ChromaDB's proxy lets core and the edge in and no one else, core's plain requests
// leave its proxy as mutual TLS with core's identity, and the edge serves a hostname to
// a browser without a client certificate. A client without a certificate, with one from
// another CA, or with an identity not allowed, never reaches the service.
func TestProxiesRequireAndVerifyClientCertificates(t *testing.T) {
	mesh := newAuthority(t, "Lamina mesh CA (test)")
	other := newAuthority(t, "Someone else's CA")

	var mu sync.Mutex
	var callers []string
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		callers = append(callers, r.Header.Get("X-Lamina-Caller"))
		mu.Unlock()
		fmt.Fprintf(w, "chromadb %s %s", r.Host, r.URL.Path)
	}))
	t.Cleanup(app.Close)
	hits := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), callers...)
	}

	chromaIn, coreOut, edgeIn := freeAddr(t), freeAddr(t), freeAddr(t)
	chromaHealth, coreHealth, edgeHealth := freeAddr(t), freeAddr(t), freeAddr(t)
	chromaTLS := mesh.issue(t, mesh, "chromadb", "chromadb", "chromadb.mesh.lamina")
	run(t, dockermesh.Proxy{
		Name: "chromadb", TLSDir: chromaTLS, Health: chromaHealth,
		Inbound: &dockermesh.Inbound{Listen: chromaIn, App: "http://" + strings.TrimPrefix(app.URL, "http://"), Callers: []string{"core", "edge"},
			HealthPath: "/api/v2/heartbeat"},
	}, chromaIn, chromaHealth)
	// Core's app is not there (nothing listens on the discard port).
	run(t, dockermesh.Proxy{
		Name: "core", TLSDir: mesh.issue(t, mesh, "core", "core"), Health: coreHealth,
		Inbound: &dockermesh.Inbound{Listen: freeAddr(t), App: "http://127.0.0.1:9", Callers: []string{"edge"}, HealthPath: "/health"},
		Outbound: []dockermesh.Route{
			{Name: "chromadb", Listen: coreOut, Allow: "127.0.0.0/8", Target: chromaIn, Service: "chromadb"},
			// The same callee under another identity: the callee's certificate must carry it.
			{Name: "llm-serve", Listen: coreOut, Allow: "127.0.0.0/8", Target: chromaIn, Service: "llm-serve"},
			// A route only another network may use.
			{Name: "dashboard", Listen: coreOut, Allow: "192.0.2.0/24", Target: chromaIn, Service: "chromadb"},
		},
	}, coreOut, coreHealth)
	edgeTLS := mesh.issue(t, mesh, "edge", "chroma.lamina.test")
	run(t, dockermesh.Proxy{
		Name: "edge", TLSDir: edgeTLS, Listen: edgeIn, Health: edgeHealth,
		Public: []dockermesh.Route{{Name: "chroma.lamina.test", Target: chromaIn, Service: "chromadb"}},
	}, edgeIn, edgeHealth)

	plain := &http.Client{Timeout: 10 * time.Second}
	t.Run("core's plain request leaves as mutual TLS with core's identity", func(t *testing.T) {
		status, body := get(t, plain, "http://"+coreOut+"/api/v2/heartbeat", "chromadb")
		assert.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, "chromadb chromadb /api/v2/heartbeat", body)
		assert.Equal(t, "CN=core", hits()[len(hits())-1])
	})
	t.Run("a Host no route names is refused", func(t *testing.T) {
		status, _ := get(t, plain, "http://"+coreOut+"/", "kiali")
		assert.Equal(t, http.StatusMisdirectedRequest, status)
	})
	t.Run("a callee without the identity the route names is refused", func(t *testing.T) {
		before := len(hits())
		status, _ := get(t, plain, "http://"+coreOut+"/", "llm-serve")
		assert.Equal(t, http.StatusBadGateway, status)
		assert.Len(t, hits(), before)
	})
	t.Run("a route is only for its caller's network", func(t *testing.T) {
		status, _ := get(t, plain, "http://"+coreOut+"/", "dashboard")
		assert.Equal(t, http.StatusForbidden, status)
	})

	inbound := "https://" + chromaIn + "/api/v2/heartbeat"
	for _, tc := range []struct {
		name   string
		client *http.Client
		status int
	}{
		{"no client certificate", client(t, chromaTLS, "chromadb", false), http.StatusBadRequest},
		{"a certificate from another CA", client(t, other.issue(t, mesh, "core", "core"), "chromadb", true), http.StatusBadRequest},
		{"an identity chromadb does not let in", client(t, mesh.issue(t, mesh, "dashboard", "dashboard"), "chromadb", true), http.StatusForbidden},
	} {
		t.Run("refused: "+tc.name, func(t *testing.T) {
			before := len(hits())
			status, body := get(t, tc.client, inbound, "chromadb")
			assert.Equal(t, tc.status, status, body)
			assert.Len(t, hits(), before, "the service was not reached")
		})
	}
	t.Run("core's certificate passes", func(t *testing.T) {
		status, body := get(t, client(t, mesh.issue(t, mesh, "core", "core"), "chromadb", true), inbound, "chromadb")
		assert.Equal(t, http.StatusOK, status, body)
	})
	t.Run("a browser reaches the service through the edge", func(t *testing.T) {
		browser := client(t, edgeTLS, "chroma.lamina.test", false)
		status, body := get(t, browser, "https://"+edgeIn+"/api/v2/heartbeat", "chroma.lamina.test")
		assert.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, "CN=edge", hits()[len(hits())-1])
		status, _ = get(t, browser, "https://"+edgeIn+"/", "grafana.lamina.test")
		assert.Equal(t, http.StatusMisdirectedRequest, status)
	})
	// What Docker's health check asks (wget in the container): ready only when the app
	// answers its health path through the private network.
	t.Run("a proxy is ready when its app answers its health path", func(t *testing.T) {
		before := len(hits())
		status, body := get(t, plain, "http://"+chromaHealth+"/ready", "localhost")
		assert.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, "chromadb 127.0.0.1:"+strings.Split(app.URL, ":")[2]+" /api/v2/heartbeat", body)
		assert.Len(t, hits(), before+1)
		status, _ = get(t, plain, "http://"+chromaHealth+"/", "localhost")
		assert.Equal(t, http.StatusNotFound, status, "the health server serves /ready alone")
	})
	t.Run("a proxy whose app does not answer is not ready", func(t *testing.T) {
		status, _ := get(t, plain, "http://"+coreHealth+"/ready", "localhost")
		assert.Equal(t, http.StatusBadGateway, status)
	})
	t.Run("the edge is ready when it serves", func(t *testing.T) {
		status, _ := get(t, plain, "http://"+edgeHealth+"/ready", "localhost")
		assert.Equal(t, http.StatusOK, status)
	})
}

// What would not make a safe nginx configuration is refused before any text is made.
func TestProxyConfigRefusesUnsafeInput(t *testing.T) {
	in := &dockermesh.Inbound{Listen: ":8443", App: "http://chromadb-app:8000", Callers: []string{"core"}}
	for _, tc := range []struct {
		name string
		p    dockermesh.Proxy
		want string
	}{
		{"a name with a brace", dockermesh.Proxy{Name: "core}", TLSDir: "/tls", RunDir: "/tmp", Inbound: in}, `proxy name "core}"`},
		{"a caller with a quote", dockermesh.Proxy{Name: "chromadb", TLSDir: "/tls", RunDir: "/tmp",
			Inbound: &dockermesh.Inbound{Listen: ":8443", App: "http://chromadb-app:8000", Callers: []string{`core" 1; default 1; "`}}}, "is not an identity"},
		{"an app with a path", dockermesh.Proxy{Name: "chromadb", TLSDir: "/tls", RunDir: "/tmp",
			Inbound: &dockermesh.Inbound{Listen: ":8443", App: "http://chromadb-app:8000/;", Callers: []string{"core"}}}, "is not http://host:port"},
		{"nobody may call it", dockermesh.Proxy{Name: "chromadb", TLSDir: "/tls", RunDir: "/tmp",
			Inbound: &dockermesh.Inbound{Listen: ":8443", App: "http://chromadb-app:8000"}}, "no caller may reach it"},
		{"an outbound route open to every network", dockermesh.Proxy{Name: "core", TLSDir: "/tls", RunDir: "/tmp", Inbound: in,
			Outbound: []dockermesh.Route{{Name: "chromadb", Listen: ":8000", Allow: "all", Target: "chromadb.mesh.lamina:8443", Service: "chromadb"}}}, `allow "all" is not a network`},
		{"a health server off loopback", dockermesh.Proxy{Name: "chromadb", TLSDir: "/tls", RunDir: "/tmp", Inbound: in, Health: "0.0.0.0:8081"},
			`health "0.0.0.0:8081" is not a loopback address`},
		{"a health path with a semicolon", dockermesh.Proxy{Name: "chromadb", TLSDir: "/tls", RunDir: "/tmp",
			Inbound: &dockermesh.Inbound{Listen: ":8443", App: "http://chromadb-app:8000", Callers: []string{"core"}, HealthPath: "/x; return 200"}}, `health path "/x; return 200"`},
		{"both sides", dockermesh.Proxy{Name: "edge", TLSDir: "/tls", RunDir: "/tmp", Inbound: in, Listen: "127.0.0.1:8443",
			Public: []dockermesh.Route{{Name: "chroma.lamina.test", Target: "chromadb.mesh.lamina:8443", Service: "chromadb"}}}, "not both or none"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.p.Config()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
