package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// On the simulated cluster kwok stands in for the kubelet, so a pod's spec never meets
// its image there: a pod that the real kubelet would start and the image would crash
// (ChromaDB as uid 1000 writing chroma.log into its root-owned working directory) shows
// nowhere. Here the development stack's own workloads, as the program renders them,
// run on the real dockerd the way the kubelet runs a pod's container (pkg/kubelet/
// kuberuntime's generateContainerConfig and the CRI's docker translation):
//   - command replaces the image's ENTRYPOINT and drops its CMD; args replace the CMD;
//   - the user is runAsUser:runAsGroup (the container's, else the pod's), with fsGroup
//     as a supplementary group;
//   - env values, secretKeyRef from the rendered Secret (a test value where the program
//     generates it), configMapKeyRef from the rendered ConfigMap;
//   - a ConfigMap volume is its keys as root-owned 0644 files (a subPath mount, the one
//     file), read-only when the mount says so; an emptyDir is a fresh writable directory;
//     a claim is the host data directory's subdirectory as storage's data-dirs.sh makes
//     it (mode 0777);
//   - readOnlyRootFilesystem, capabilities' drop of ALL and allowPrivilegeEscalation
//     false as the runtime applies them; the pod's network is its own (loopback only);
//   - the startup probe's HTTP GET, from inside the pod's network, must answer 200.
//
// Only workloads whose image has a stand-in (standin_images_test.go) run; Lamina's own
// images are built by the stack and are unknown to an offline render. The Mac adds what
// no test here has: virtiofs's ownership of the mounted data directory.
func TestPodSpecsStartOnTheirImages(t *testing.T) {
	w, d := theDocker(t)
	scenario(t, "the development stack's pods, as rendered, start on their images as the kubelet runs them", func(t *testing.T) {
		lamina := laminaBinary(t, w)
		out, err := run(root, []string{"HOME=" + w.mac.home}, lamina, "render", "-s", "development", "--format", "json",
			"--assume-secret", "lamina:grafana.adminPassword")
		if err != nil {
			t.Fatalf("lamina render: %v\n%s", err, lastLines(out, 20))
		}
		var rendered struct {
			Resources []struct {
				Type   string         `json:"type"`
				Name   string         `json:"name"`
				Inputs map[string]any `json:"inputs"`
			} `json:"resources"`
		}
		if err := json.Unmarshal([]byte(out), &rendered); err != nil {
			t.Fatalf("the render is not JSON: %v", err)
		}
		known := map[string]bool{}
		for _, im := range standInImages() {
			known[im.Ref] = true
		}
		objects := map[string]map[string]any{} // kind/namespace/name
		var pods []podUnderTest
		for _, r := range rendered.Resources {
			kind := r.Type[strings.LastIndex(r.Type, ":")+1:]
			meta, _ := r.Inputs["metadata"].(map[string]any)
			objects[kind+"/"+str(meta["namespace"])+"/"+str(meta["name"])] = r.Inputs
			if kind != "StatefulSet" && kind != "Deployment" {
				continue
			}
			spec, _ := dig(r.Inputs, "spec", "template", "spec").(map[string]any)
			for _, c := range list(spec["containers"]) {
				if image := str(dig(c, "image")); known[image] {
					pods = append(pods, podUnderTest{name: r.Name, namespace: str(meta["namespace"]), pod: spec, container: c.(map[string]any)})
				}
			}
		}
		names := make([]string, 0, len(pods))
		for _, p := range pods {
			names = append(names, p.name)
		}
		sort.Strings(names)
		// ChromaDB is the one the development stack pulls from upstream; its failure as
		// another user than the image's is what this test exists for.
		if !strings.Contains(strings.Join(names, " "), "chromadb") {
			t.Fatalf("no ChromaDB workload with a stand-in image among the rendered workloads %v", names)
		}
		for _, p := range pods {
			t.Run(p.name, func(t *testing.T) { p.start(t, d, objects, filepath.Join(w.dir, "pods", p.name)) })
		}
	})
}

// podUnderTest is one container of a rendered pod template.
type podUnderTest struct {
	name, namespace string
	pod, container  map[string]any
}

func (p podUnderTest) start(t *testing.T, d *dockerd, objects map[string]map[string]any, dir string) {
	c := p.container
	security := func(key string) any {
		if v := dig(c, "securityContext", key); v != nil {
			return v
		}
		return dig(p.pod, "securityContext", key)
	}
	user := ""
	if uid := security("runAsUser"); uid != nil {
		user = num(uid)
		if gid := security("runAsGroup"); gid != nil {
			user += ":" + num(gid)
		}
	}
	if security("runAsNonRoot") == true && (user == "" || strings.HasPrefix(user, "0")) {
		t.Fatalf("runAsNonRoot without a runAsUser: the kubelet would check the image's user, which this test does not")
	}
	var env []string
	for _, e := range list(c["env"]) {
		name := str(dig(e, "name"))
		switch {
		case dig(e, "valueFrom", "secretKeyRef") != nil:
			ref := dig(e, "valueFrom", "secretKeyRef")
			secret := objects["Secret/"+p.namespace+"/"+str(dig(ref, "name"))]
			value := str(dig(secret, "stringData", str(dig(ref, "key"))))
			if value == "" {
				value = "e2e-" + name // the render shows a secret's data as [secret]
			}
			env = append(env, name+"="+value)
		case dig(e, "valueFrom", "configMapKeyRef") != nil:
			ref := dig(e, "valueFrom", "configMapKeyRef")
			env = append(env, name+"="+str(dig(objects["ConfigMap/"+p.namespace+"/"+str(dig(ref, "name"))], "data", str(dig(ref, "key")))))
		case dig(e, "valueFrom") != nil:
			t.Fatalf("env %s: a valueFrom this test does not resolve: %v", name, dig(e, "valueFrom"))
		default:
			env = append(env, name+"="+str(dig(e, "value")))
		}
	}
	volumes := map[string]any{}
	for _, v := range list(p.pod["volumes"]) {
		volumes[str(dig(v, "name"))] = v
	}
	var mounts []map[string]any
	for _, m := range list(c["volumeMounts"]) {
		name, target, sub := str(dig(m, "name")), str(dig(m, "mountPath")), str(dig(m, "subPath"))
		v := volumes[name]
		source := filepath.Join(dir, "volumes", name)
		switch {
		case dig(v, "configMap") != nil:
			cm := objects["ConfigMap/"+p.namespace+"/"+str(dig(v, "configMap", "name"))]
			if cm == nil {
				t.Fatalf("volume %s: ConfigMap %v is not in the render", name, dig(v, "configMap", "name"))
			}
			if err := os.MkdirAll(source, 0o755); err != nil {
				t.Fatal(err)
			}
			data, _ := dig(cm, "data").(map[string]any)
			for key, value := range data {
				if err := os.WriteFile(filepath.Join(source, key), []byte(str(value)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		case dig(v, "persistentVolumeClaim") != nil, dig(v, "emptyDir") != nil:
			if err := os.MkdirAll(source, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(source, 0o777); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("volume %s: a source this test does not make: %v", name, v)
		}
		if sub != "" {
			source = filepath.Join(source, sub)
		}
		mounts = append(mounts, map[string]any{"Type": "bind", "Source": source, "Target": target, "ReadOnly": dig(m, "readOnly") == true})
	}
	var groups []string
	if g := dig(p.pod, "securityContext", "fsGroup"); g != nil {
		groups = []string{num(g)}
	}
	host := map[string]any{"NetworkMode": "none", "Mounts": mounts, "GroupAdd": groups,
		"ReadonlyRootfs": security("readOnlyRootFilesystem") == true}
	if slices.Contains(strs(list(dig(c, "securityContext", "capabilities", "drop"))), "ALL") {
		host["CapDrop"] = []string{"ALL"}
	}
	if security("allowPrivilegeEscalation") == false {
		host["SecurityOpt"] = []string{"no-new-privileges:true"}
	}
	create := map[string]any{"Image": str(c["image"]), "User": user, "Env": env, "HostConfig": host,
		"Labels": map[string]string{"lamina-e2e": "pod"}}
	if cmd := list(c["command"]); len(cmd) > 0 {
		create["Entrypoint"] = strs(cmd)
		create["Cmd"] = strs(list(c["args"]))
	} else if args := list(c["args"]); len(args) > 0 {
		create["Cmd"] = strs(args)
	}
	if wd := str(c["workingDir"]); wd != "" {
		create["WorkingDir"] = wd
	}
	body, _ := json.Marshal(create)
	name := "e2e-pod-" + p.name
	_ = d.api.do("DELETE", "/containers/"+name+"?force=1", nil, nil)
	if err := d.api.do("POST", "/containers/create?name="+name, bytes.NewReader(body), nil); err != nil {
		t.Fatalf("the runtime refuses the container: %v", err)
	}
	t.Cleanup(func() { _ = d.api.do("DELETE", "/containers/"+name+"?force=1", nil, nil) })
	if err := d.api.do("POST", "/containers/"+name+"/start", nil, nil); err != nil {
		t.Fatalf("the container does not start: %v", err)
	}

	probe := dig(c, "startupProbe", "httpGet")
	if probe == nil {
		t.Fatalf("no startup probe's httpGet to wait for")
	}
	port := str(dig(probe, "port"))
	for _, cp := range list(c["ports"]) {
		if str(dig(cp, "name")) == port {
			port = num(dig(cp, "containerPort"))
		}
	}
	url := "http://127.0.0.1:" + port + str(dig(probe, "path"))
	deadline := time.Now().Add(time.Minute)
	for {
		info, err := d.api.inspect(name)
		if err != nil {
			t.Fatal(err)
		}
		if !info.State.Running {
			logs, _ := d.api.logs(name, "")
			t.Fatalf("the container exited (as user %q, env %v) before its startup probe passed:\n%s", user, env, lastLines(logs, 30))
		}
		code, out, err := d.api.run(runSpec{Image: probeImage, Cmd: []string{"get", url, "--timeout", "2s"}, Network: "container:" + name,
			Labels: map[string]string{"lamina-e2e": "probe"}}, 30*time.Second)
		if err == nil && code == 0 && strings.Contains(out, "status=200") {
			return
		}
		if time.Now().After(deadline) {
			logs, _ := d.api.logs(name, "")
			t.Fatalf("the startup probe %s did not answer 200 within a minute: exit %d %v\n%s\ncontainer output:\n%s", url, code, err, out, lastLines(logs, 30))
		}
		time.Sleep(time.Second)
	}
}

// dig walks nested JSON objects by key; nil when a step is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any { l, _ := v.([]any); return l }

func str(v any) string {
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// num prints a JSON number as an integer.
func num(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatInt(int64(f), 10)
	}
	return str(v)
}

func strs(l []any) []string {
	out := make([]string, 0, len(l))
	for _, v := range l {
		out = append(out, str(v))
	}
	return out
}

var (
	laminaOnce  sync.Once
	laminaBuilt string
	laminaErr   error
)

// laminaBinary builds this repository's lamina command once for the run.
func laminaBinary(t testing.TB, w *world) string {
	t.Helper()
	laminaOnce.Do(func() {
		laminaBuilt = filepath.Join(w.dir, "lamina")
		out, err := run(root, nil, "go", "build", "-o", laminaBuilt, "./cmd/lamina")
		if err != nil {
			laminaErr = fmt.Errorf("building lamina: %v\n%s", err, out)
		}
	})
	if laminaErr != nil {
		t.Fatal(laminaErr)
	}
	return laminaBuilt
}
