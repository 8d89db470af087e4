package main

// probe is the engine test's own client, run in a container of its own (the image
// lamina-e2e/probe:1) on the networks a test wants to look from. It imitates no upstream
// image. It needs nothing of its file system but the binary, so it runs as any user on a
// read-only root.
//
//	probe get URL [--cacert F] [--cert F --key F] [--header 'K: V']... [--resolve host:port:addr]...
//	              [--user name:password] [--method M] [--data BODY] [--timeout 10s]
//	    prints status=<code> and the body; exit 0 on any HTTP response, 2 on a connection
//	    or TLS error (printed)
//	probe tcp HOST:PORT [--timeout 5s]
//	    exit 0 if a connection opens, 2 otherwise

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func probe(args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe get URL [options] | probe tcp HOST:PORT")
		return 64
	}
	switch args[0] {
	case "get":
		return probeGet(args[1:])
	case "tcp":
		return probeTCP(args[1:])
	}
	fmt.Fprintf(os.Stderr, "probe: unknown command %q\n", args[0])
	return 64
}

func probeTCP(args []string) int {
	timeout := 5 * time.Second
	if v, ok := flagValue(args, "timeout"); ok {
		if d, err := time.ParseDuration(v); err == nil {
			timeout = d
		}
	}
	conn, err := net.DialTimeout("tcp", args[0], timeout)
	if err != nil {
		fmt.Println("error:", err)
		return 2
	}
	conn.Close()
	fmt.Println("connected to", args[0])
	return 0
}

func probeGet(args []string) int {
	var target, cacert, cert, key, user, method, data string
	var headers, resolves []string
	timeout := 10 * time.Second
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			target = a
			continue
		}
		if i+1 >= len(args) {
			fmt.Fprintf(os.Stderr, "probe: %s needs a value\n", a)
			return 64
		}
		i++
		v := args[i]
		switch a {
		case "--cacert":
			cacert = v
		case "--cert":
			cert = v
		case "--key":
			key = v
		case "--header":
			headers = append(headers, v)
		case "--resolve":
			resolves = append(resolves, v)
		case "--user":
			user = v
		case "--method":
			method = v
		case "--data":
			data = v
		case "--timeout":
			d, err := time.ParseDuration(v)
			if err != nil {
				fmt.Fprintf(os.Stderr, "probe: --timeout: %v\n", err)
				return 64
			}
			timeout = d
		default:
			fmt.Fprintf(os.Stderr, "probe: unknown option %s\n", a)
			return 64
		}
	}
	tlsConfig := &tls.Config{}
	if cacert != "" {
		pem, err := os.ReadFile(cacert)
		if err != nil {
			fmt.Println("error:", err)
			return 2
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Println("error: no certificate in", cacert)
			return 2
		}
		tlsConfig.RootCAs = pool
	}
	if cert != "" || key != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			fmt.Println("error:", err)
			return 2
		}
		tlsConfig.Certificates = []tls.Certificate{pair}
	}
	// --resolve host:port:addr sends connections for host:port to addr:port (as curl).
	override := map[string]string{}
	for _, r := range resolves {
		parts := strings.SplitN(r, ":", 3)
		if len(parts) != 3 {
			fmt.Fprintf(os.Stderr, "probe: --resolve %q is not host:port:addr\n", r)
			return 64
		}
		override[net.JoinHostPort(parts[0], parts[1])] = net.JoinHostPort(parts[2], parts[1])
	}
	dialer := &net.Dialer{Timeout: timeout}
	transport := &http.Transport{
		TLSClientConfig: tlsConfig,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if to, ok := override[addr]; ok {
				addr = to
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
	if method == "" {
		method = http.MethodGet
		if data != "" {
			method = http.MethodPost
		}
	}
	var body io.Reader
	if data != "" {
		body = strings.NewReader(data)
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		fmt.Println("error:", err)
		return 64
	}
	if data != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, h := range headers {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			fmt.Fprintf(os.Stderr, "probe: --header %q is not K:V\n", h)
			return 64
		}
		if strings.EqualFold(strings.TrimSpace(k), "Host") {
			req.Host = strings.TrimSpace(v)
			continue
		}
		req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	if user != "" {
		name, pass, _ := strings.Cut(user, ":")
		req.SetBasicAuth(name, pass)
	}
	client := &http.Client{Transport: transport, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Println("error:", err)
		return 2
	}
	defer resp.Body.Close()
	fmt.Printf("status=%d\n", resp.StatusCode)
	io.Copy(os.Stdout, resp.Body)
	return 0
}
