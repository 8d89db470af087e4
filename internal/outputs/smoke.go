package outputs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Probe is the result of one smoke request.
type Probe struct {
	Endpoint
	// Status is the HTTP status, 0 when no answer came.
	Status int
	// Err says why the request failed, or why its answer counts as a failure.
	Err error
}

// OK reports whether the service answered: any status below 500. A 5xx (Envoy's 503 "no
// healthy upstream" among them) means the gateway is up but the service is not.
func (p Probe) OK() bool { return p.Err == nil }

// SmokeOptions say how to reach the gateway.
type SmokeOptions struct {
	// RootCAs verifies the gateway's certificate (the stack's CA); nil uses the system's.
	RootCAs *x509.CertPool
	// Insecure skips verification.
	Insecure bool
	// Timeout bounds each request.
	Timeout time.Duration
	// Port, when set, replaces each URL's port when dialing (tests).
	Port string
}

// Smoke requests every URL through the gateway's address, as curl --resolve does: the
// hostname still names the service (SNI, Host header, certificate), but the connection
// goes to the gateway, whatever /etc/hosts says.
func (s *Stack) Smoke(ctx context.Context, opts SmokeOptions) ([]Probe, error) {
	if err := s.Require("gatewayAddress", "urls"); err != nil {
		return nil, err
	}
	eps, err := s.Endpoints()
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: opts.Timeout}
	transport := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if opts.Port != "" {
				port = opts.Port
			}
			return dialer.DialContext(ctx, network, net.JoinHostPort(s.GatewayAddress, port))
		},
		TLSClientConfig: &tls.Config{RootCAs: opts.RootCAs, InsecureSkipVerify: opts.Insecure},
		Proxy:           nil,
	}
	defer transport.CloseIdleConnections()
	client := &http.Client{
		Transport: transport,
		Timeout:   opts.Timeout,
		// A redirect (to a login page, say) is an answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var out []Probe
	for _, e := range eps {
		p := Probe{Endpoint: e}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.URL, nil)
		if err == nil {
			var resp *http.Response
			resp, err = client.Do(req)
			if err == nil {
				resp.Body.Close()
				p.Status = resp.StatusCode
				if resp.StatusCode >= 500 {
					err = fmt.Errorf("%s", resp.Status)
				}
			}
		}
		p.Err = err
		out = append(out, p)
	}
	return out, nil
}
