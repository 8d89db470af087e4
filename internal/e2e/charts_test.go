package e2e

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"strings"
)

// chartServer serves the chart mirror over TLS on loopback, as the chart repositories
// would (the program accepts only https:// repositories); its certificate is the CA the
// CLI and its plugins trust (SSL_CERT_FILE).
type chartServer struct {
	*httptest.Server
	caFile string
}

func serveCharts(mirror, caFile string) (*chartServer, error) {
	srv := httptest.NewTLSServer(http.FileServer(http.Dir(mirror)))
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o644); err != nil {
		srv.Close()
		return nil, err
	}
	return &chartServer{Server: srv, caFile: caFile}, nil
}

// repository is where the server serves a chart repository: the mirror keeps
// https://charts.jetstack.io in charts.jetstack.io/.
func (c *chartServer) repository(upstream string) (string, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return "", err
	}
	return c.URL + path.Join("/", u.Host, strings.Trim(u.Path, "/")), nil
}
