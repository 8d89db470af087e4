package e2e

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// profile is the Colima profile of the development stack; its VM's k3s is the harness's
// API server.
const profile = "lamina-development"

// mac is the Mac the CLI runs on: a home directory, a PATH with the fake colima, the real
// kubectl and the tools, and the environment the CLI and its plugins get.
type mac struct {
	home, colima string
	env          []string
	proxy        net.Listener
}

// newMac prepares the fake Mac of w, and the proxy through which its kubeconfig reaches
// the API server while the VM runs.
func newMac(w *world) (*mac, error) {
	m, bin, err := newBareMac(w)
	if err != nil {
		return nil, err
	}
	// A krunkit VM needs krunkit on the PATH and Colima's network helper, which Colima
	// installs with sudo (under /opt/colima and /etc/sudoers.d, here under the Mac's own
	// directories), as daemon/process/vmnet/deps.go at v0.10.3 checks it: both binaries,
	// the run directory, and the sudoers entry holding Colima's own text.
	helper := filepath.Join(w.dir, "colima-helper")
	sudoers, err := os.ReadFile(filepath.Join(root, "components", "colima", "sudoers.txt"))
	if err != nil {
		return nil, err
	}
	krunkit := "#!/bin/sh\n[ \"$1\" = --version ] && echo 'krunkit 1.2.1' && exit 0\necho \"fake krunkit: $*\" >&2; exit 3\n"
	for path, text := range map[string]string{
		filepath.Join(bin, "krunkit"):                              krunkit,
		filepath.Join(helper, "opt", "bin", "socket_vmnet"):        "",
		filepath.Join(helper, "opt", "bin", "socket_vmnet_client"): "",
		filepath.Join(helper, "opt", "run", ".keep"):               "",
		filepath.Join(helper, "sudoers.d", "colima"):               string(sudoers),
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
			return nil, err
		}
	}
	if m.proxy, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, err
	}
	go m.serve(fmt.Sprintf("127.0.0.1:%d", w.apiPort))

	user, err := w.env.AddUser(envtestUser("lamina-e2e-mac"), nil)
	if err != nil {
		return nil, err
	}
	cert, key := filepath.Join(w.dir, "mac-client.crt"), filepath.Join(w.dir, "mac-client.key")
	if err := os.WriteFile(cert, user.Config().CertData, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(key, user.Config().KeyData, 0o600); err != nil {
		return nil, err
	}
	m.env = append(m.env,
		"KUBECONFIG=",
		"LAMINA_COLIMA_OPT="+filepath.Join(helper, "opt"),
		"LAMINA_SUDOERS_DIR="+filepath.Join(helper, "sudoers.d"),
		"E2E_ADMIN_KUBECONFIG="+w.admin,
		"E2E_SERVER=https://"+m.proxy.Addr().String(),
		"E2E_CA="+filepath.Join(w.dir, "apiserver-ca.pem"),
		"E2E_CLIENT_CERT="+cert, "E2E_CLIENT_KEY="+key,
		// The CLI and every plugin trust the chart server's CA (and nothing else is
		// reached over TLS).
		"SSL_CERT_FILE="+w.charts.caFile,
	)
	if w.realistic {
		m.env = append(m.env, fmt.Sprintf("FAKE_COLIMA_START_SECONDS=%d", int(slowSteps.vmStart.Seconds())))
	}
	return m, nil
}

// newBareMac is what every fake Mac of w has: a home, the fake colima first on a PATH
// with the tools and Go, a local state backend, and the environment the CLI and its
// plugins get on any Mac (the machine's Go caches, no plugin from anywhere but the
// tests). It returns the Mac and its PATH's own directory.
func newBareMac(w *world) (*mac, string, error) {
	m := &mac{home: filepath.Join(w.dir, "home"), colima: filepath.Join(w.dir, "colima")}
	bin := filepath.Join(w.dir, "mac-bin")
	for _, d := range []string{m.home, m.colima, bin, filepath.Join(w.dir, "state")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, "", err
		}
	}
	fake, err := filepath.Abs(filepath.Join("testdata", "fake-colima"))
	if err != nil {
		return nil, "", err
	}
	// The user's template for new profiles (`colima template`, cmd/template.go), as many
	// have it: Kubernetes on and their own DNS servers. Colima takes from it whatever
	// `start` leaves out for a new profile; the program must leave out nothing it owns.
	template := filepath.Join(m.home, ".colima", "_templates", "default.yaml")
	if err := os.MkdirAll(filepath.Dir(template), 0o755); err != nil {
		return nil, "", err
	}
	if err := os.WriteFile(template, []byte("kubernetes:\n  enabled: true\nnetwork:\n  dns: [9.9.9.9]\n"), 0o644); err != nil {
		return nil, "", err
	}
	if err := os.Symlink(fake, filepath.Join(bin, "colima")); err != nil {
		return nil, "", err
	}
	caches, err := goCaches()
	if err != nil {
		return nil, "", err
	}
	m.env = append(caches,
		"HOME="+m.home,
		"PATH="+strings.Join([]string{bin, w.bin, goBinDir(), "/usr/local/bin", "/usr/bin", "/bin"}, string(os.PathListSeparator)),
		"FAKE_COLIMA_HOME="+m.colima,
		"PULUMI_HOME="+filepath.Join(w.dir, "pulumi-home"),
		"PULUMI_BACKEND_URL=file://"+filepath.Join(w.dir, "state"),
		"PULUMI_CONFIG_PASSPHRASE=lamina-e2e",
		"PULUMI_SKIP_UPDATE_CHECK=true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true",
		"PULUMI_IGNORE_AMBIENT_PLUGINS=true",
	)
	return m, bin, nil
}

// vmDiskLeft says what is left of a profile's VM after the documented teardown: its
// directory of the fake, its saved settings, or its data disk, which `colima delete`
// without --data keeps for the next VM of the profile.
func (m *mac) vmDiskLeft(profile string) []string {
	var left []string
	for _, path := range []string{filepath.Join(m.colima, profile), filepath.Join(m.home, ".colima", profile),
		filepath.Join(m.home, ".colima", "_lima", "_disks", "colima-"+profile)} {
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			left = append(left, path)
		}
	}
	return left
}

// running holds while the profile's VM runs.
func (m *mac) running() bool {
	status, err := os.ReadFile(filepath.Join(m.colima, profile, "status"))
	return err == nil && string(status) == "Running"
}

// serve forwards connections to the API server while the VM runs, and refuses them,
// as a stopped VM's address does, while it does not.
func (m *mac) serve(apiserver string) {
	for {
		conn, err := m.proxy.Accept()
		if err != nil {
			return
		}
		if !m.running() {
			conn.Close()
			continue
		}
		go func() {
			defer conn.Close()
			upstream, err := net.Dial("tcp", apiserver)
			if err != nil {
				return
			}
			defer upstream.Close()
			done := make(chan struct{}, 2)
			go func() { _, _ = io.Copy(upstream, conn); done <- struct{}{} }()
			go func() { _, _ = io.Copy(conn, upstream); done <- struct{}{} }()
			<-done
		}()
	}
}

// goCaches are GOCACHE, GOMODCACHE and GOPATH as this machine's Go has them: the language
// host builds the program with the machine's Go and its caches, which a new HOME would
// otherwise move.
func goCaches() ([]string, error) {
	out, err := exec.Command(filepath.Join(goBinDir(), "go"), "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	if err != nil {
		return nil, err
	}
	caches := strings.Fields(string(out))
	if len(caches) != 3 {
		return nil, fmt.Errorf("go env printed %q", out)
	}
	return []string{"GOCACHE=" + caches[0], "GOMODCACHE=" + caches[1], "GOPATH=" + caches[2]}, nil
}

// goBinDir is the directory of the go command the tests run with.
func goBinDir() string {
	if path, err := exec.LookPath("go"); err == nil {
		return filepath.Dir(path)
	}
	return filepath.Join(runtime.GOROOT(), "bin")
}

func (m *mac) close() {
	if m.proxy != nil {
		m.proxy.Close()
	}
}
