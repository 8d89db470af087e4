package outputs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func load(t *testing.T, name string) (*Stack, error) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	require.NoError(t, err)
	defer f.Close()
	return Parse(f, name)
}

// A stack's outputs parse into the contract; input that is not a stack's outputs, or a
// stack's outputs from another contract, is refused saying what to run.
func TestParseTheContractAndRefuseAnythingElse(t *testing.T) {
	s, err := load(t, "development.json")
	require.NoError(t, err)
	assert.Equal(t, "development", s.Stack)
	assert.Equal(t, "192.168.64.200", s.GatewayAddress)
	assert.Equal(t, &VM{CPUs: 12, MemoryGiB: 128, DiskGiB: 200, Address: "192.168.64.5"}, s.VM)
	assert.Len(t, s.URLs, 7)
	assert.Equal(t, "/Users/Shared/lamina/development/models", s.DataDirs["models"])

	for file, want := range map[string]string{
		"truncated.json":  "truncated.json is not the JSON object `pulumi stack output --json --show-secrets` prints: unexpected end of JSON input",
		"no-schema.json":  "no-schema.json has no schemaVersion",
		"future.json":     "future.json has schemaVersion 2; this lamina reads schemaVersion 1",
		"wrong-type.json": "wrong-type.json: output urls is a JSON array, not the map[string]string the contract says",
	} {
		_, err := load(t, file)
		require.Error(t, err, file)
		assert.Contains(t, err.Error(), want)
	}
	_, err = Parse(strings.NewReader("  \n"), "stdin")
	assert.EqualError(t, err, "stdin is empty; give it the output of: pulumi stack output --json --show-secrets -s <stack>")
}

// Each command names the outputs it lacks, and a secret printed without --show-secrets.
func TestMissingAndMaskedOutputsAreNamed(t *testing.T) {
	before, err := load(t, "before-up.json")
	require.NoError(t, err)
	_, err = before.HostsLines()
	assert.EqualError(t, err, "the stack outputs lack gatewayAddress, urls; has `pulumi up` finished for this stack?")
	assert.EqualError(t, before.WriteKubeconfig(filepath.Join(t.TempDir(), "k")), "the stack outputs lack kubeconfig; has `pulumi up` finished for this stack?")

	masked, err := load(t, "masked.json")
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "k")
	assert.EqualError(t, masked.WriteKubeconfig(path), "kubeconfig is [secret]: run pulumi stack output --json --show-secrets")
	assert.NoFileExists(t, path, "nothing is written")
}

// The hosts block sends every hostname to the gateway; applying it replaces this
// stack's block only, keeps every other line, and a second apply changes nothing.
func TestHostsBlockIsIdempotentAndLeavesTheRestAlone(t *testing.T) {
	s, err := load(t, "development.json")
	require.NoError(t, err)
	lines, err := s.HostsLines()
	require.NoError(t, err)
	assert.Equal(t, []string{
		"192.168.64.200 core.dev.lamina.home.arpa", "192.168.64.200 dashboard.dev.lamina.home.arpa", "192.168.64.200 grafana.dev.lamina.home.arpa",
		"192.168.64.200 jaeger.dev.lamina.home.arpa", "192.168.64.200 kiali.dev.lamina.home.arpa", "192.168.64.200 llm.dev.lamina.home.arpa",
		"192.168.64.200 prometheus.dev.lamina.home.arpa",
	}, lines)

	original := "127.0.0.1 localhost\n::1 localhost\n" +
		"# BEGIN lamina production (written by lamina hosts --apply; edits here are replaced)\n192.168.64.210 llm.lamina.home.arpa\n# END lamina production\n" +
		"10.0.0.9 nas.home" // no final newline
	once, err := ApplyHosts(original, "development", lines)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(once, original+"\n# BEGIN lamina development"), once)
	assert.True(t, strings.HasSuffix(once, "192.168.64.200 prometheus.dev.lamina.home.arpa\n# END lamina development\n"), once)
	twice, err := ApplyHosts(once, "development", lines)
	require.NoError(t, err)
	assert.Equal(t, once, twice, "idempotent")

	moved, err := ApplyHosts(once, "development", []string{"192.168.64.201 llm.dev.lamina.home.arpa"})
	require.NoError(t, err)
	assert.Contains(t, moved, "# BEGIN lamina development (written by lamina hosts --apply; edits here are replaced)\n192.168.64.201 llm.dev.lamina.home.arpa\n# END lamina development\n")
	assert.NotContains(t, moved, "192.168.64.200")
	assert.Contains(t, moved, "192.168.64.210 llm.lamina.home.arpa\n", "the other stack's block stays")
	assert.Contains(t, moved, "10.0.0.9 nas.home\n")

	_, err = ApplyHosts("# BEGIN lamina development\n1.2.3.4 x\n", "development", lines)
	assert.EqualError(t, err, `the hosts file's lamina development block has no "# END lamina development" line; fix it by hand`)
	_, err = ApplyHosts(once+once, "development", lines)
	assert.EqualError(t, err, "the hosts file has two lamina development blocks; remove one by hand")
}

// The kubeconfig is written with mode 0600, also over a file that was readable by
// others.
func TestKubeconfigIsWrittenPrivately(t *testing.T) {
	s, err := load(t, "development.json")
	require.NoError(t, err)
	dir := t.TempDir()
	path := filepath.Join(dir, "kube", "lamina-development")
	require.NoError(t, s.WriteKubeconfig(path))
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, s.Kubeconfig, string(data))

	require.NoError(t, os.Chmod(path, 0o644))
	require.NoError(t, s.WriteKubeconfig(path))
	info, err = os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	entries, err := os.ReadDir(filepath.Dir(path))
	require.NoError(t, err)
	assert.Len(t, entries, 1, "no temporary file is left behind")
}

// selfSigned is a certificate for *.dev.lamina.home.arpa, as the stack's CA would issue.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lamina test gateway"},
		DNSNames: []string{"*.dev.lamina.home.arpa"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// Smoke reaches every hostname through the gateway's address (whatever /etc/hosts says),
// verifies the certificate for the hostname, and fails a service that answers 5xx or
// not at all.
func TestSmokeGoesThroughTheGatewayAndReportsEachService(t *testing.T) {
	cert, pool := selfSigned(t)
	seen := map[string]bool{}
	gateway := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen[r.Host] = true
		switch r.Host {
		case "llm.dev.lamina.home.arpa":
			w.WriteHeader(http.StatusServiceUnavailable) // Envoy: no healthy upstream
		case "grafana.dev.lamina.home.arpa":
			http.Redirect(w, r, "/login", http.StatusFound)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	gateway.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	gateway.StartTLS()
	defer gateway.Close()
	_, port, err := net.SplitHostPort(gateway.Listener.Addr().String())
	require.NoError(t, err)

	s := &Stack{GatewayAddress: "127.0.0.1", URLs: map[string]string{
		"grafana.dev.lamina.home.arpa": "https://grafana.dev.lamina.home.arpa", "llm.dev.lamina.home.arpa": "https://llm.dev.lamina.home.arpa",
		"core.dev.lamina.home.arpa": "https://core.dev.lamina.home.arpa",
	}}
	probes, err := s.Smoke(context.Background(), SmokeOptions{RootCAs: pool, Timeout: 5 * time.Second, Port: port})
	require.NoError(t, err)
	got := map[string]int{}
	for _, p := range probes {
		got[p.Name] = p.Status
		assert.Equal(t, p.Name != "llm", p.OK(), p.Name)
	}
	assert.Equal(t, map[string]int{"core": 200, "grafana": 302, "llm": 503}, got)
	assert.Equal(t, map[string]bool{"core.dev.lamina.home.arpa": true, "grafana.dev.lamina.home.arpa": true, "llm.dev.lamina.home.arpa": true}, seen)

	// Without the stack's CA the certificate is not trusted: every service fails.
	probes, err = s.Smoke(context.Background(), SmokeOptions{RootCAs: x509.NewCertPool(), Timeout: 5 * time.Second, Port: port})
	require.NoError(t, err)
	for _, p := range probes {
		assert.False(t, p.OK(), p.Name)
		assert.Contains(t, p.Err.Error(), "certificate", p.Name)
	}

	// Nothing listening: a connection error per service, not a crash.
	gateway.Close()
	probes, err = s.Smoke(context.Background(), SmokeOptions{RootCAs: pool, Timeout: time.Second, Port: port})
	require.NoError(t, err)
	for _, p := range probes {
		assert.Zero(t, p.Status)
		assert.False(t, p.OK())
	}
}
