package conformance

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// enforceLabel is the namespace label whose level Pod Security admission enforces.
const enforceLabel = "pod-security.kubernetes.io/enforce"

// podTemplate is a pod that a workload object makes, in the namespace it runs in.
type podTemplate struct {
	// Kind and Name are the workload's; From says which resource or chart template
	// declares it.
	Kind, Name, Namespace, From string
	Template                    map[string]any
}

func (p podTemplate) String() string {
	return fmt.Sprintf("%s %s/%s (%s)", p.Kind, p.Namespace, p.Name, p.From)
}

// podTemplateOf finds the pod template of a workload object; namespace is where the
// object goes when it names none.
func podTemplateOf(obj map[string]any, namespace string) (podTemplate, bool) {
	kind, _ := obj["kind"].(string)
	var tmpl any
	switch kind {
	case "Pod":
		tmpl = map[string]any{"metadata": obj["metadata"], "spec": obj["spec"]}
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "ReplicationController":
		tmpl = nested(obj, "spec", "template")
	case "CronJob":
		tmpl = nested(obj, "spec", "jobTemplate", "spec", "template")
	default:
		return podTemplate{}, false
	}
	t, ok := tmpl.(map[string]any)
	if !ok {
		return podTemplate{}, false
	}
	name, _ := nested(obj, "metadata", "name").(string)
	if ns, _ := nested(obj, "metadata", "namespace").(string); ns != "" {
		namespace = ns
	}
	return podTemplate{Kind: kind, Name: name, Namespace: namespace, Template: runtime.DeepCopyJSON(t)}, true
}

// admit asks the API server, in a dry run, to create the pod a template makes: Pod
// Security admission judges it by its namespace's enforce level, as it would judge the
// workload's pods on the cluster. Nothing is stored.
func admit(ctx context.Context, cs kubernetes.Interface, p podTemplate) error {
	var pod corev1.Pod
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(p.Template, &pod); err != nil {
		return fmt.Errorf("reading the pod template: %w", err)
	}
	pod.ObjectMeta = metav1.ObjectMeta{
		GenerateName: strings.ToLower(p.Kind) + "-" + p.Name + "-",
		Namespace:    p.Namespace,
		Labels:       pod.Labels,
		Annotations:  pod.Annotations,
	}
	_, err := cs.CoreV1().Pods(p.Namespace).Create(ctx, &pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	return err
}

// podClient talks to the API server for the admission checks. What Pod Security warns
// about (the restricted level every namespace warns at, above what it enforces) is not
// the verdict, so it is not printed.
func podClient(cfg *rest.Config) (kubernetes.Interface, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NoWarnings{}
	return kubernetes.NewForConfig(cfg)
}

// enforced is the Pod Security level a namespace enforces ("privileged" when unset).
func enforced(ctx context.Context, cs kubernetes.Interface, namespace string) string {
	ns, err := cs.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
	if err != nil {
		return fmt.Sprintf("unknown (%v)", err)
	}
	if level := ns.Labels[enforceLabel]; level != "" {
		return level
	}
	return "privileged"
}

// Every pod template of both stacks, the program's and the charts', is admitted by the
// Pod Security level its namespace enforces, as the cluster would admit its pods.
func TestEveryPodPassesItsNamespacesPodSecurity(t *testing.T) {
	ctx := context.Background()
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			in := installed(t, stack)
			cs, err := podClient(in.cfg)
			if err != nil {
				t.Fatal(err)
			}
			levels := map[string]int{}
			for _, p := range in.Pods {
				level := enforced(ctx, cs, p.Namespace)
				levels[level]++
				if err := admit(ctx, cs, p); err != nil {
					t.Errorf("%s: refused in namespace %s, which enforces Pod Security %q: %v", p, p.Namespace, level, err)
				}
			}
			if min := map[bool]int{true: 4, false: 15}[stack == "staging"]; len(in.Pods) < min {
				t.Errorf("only %d pod templates in %s", len(in.Pods), stack)
			}
			t.Logf("%s: %d pod templates admitted by their namespaces (%s)", stack, len(in.Pods), summary(levels))
		})
	}
}

// The check bites: a pod that needs more than its namespace allows is refused, with
// the level and the checks it fails.
func TestPodSecurityRefusesAPrivilegedPodInARestrictedNamespace(t *testing.T) {
	in := installed(t, "development")
	cs, err := podClient(in.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const namespace = "lamina-system"
	if level := enforced(ctx, cs, namespace); level != "restricted" {
		t.Fatalf("namespace %s enforces %q, want restricted", namespace, level)
	}
	p, ok := podTemplateOf(map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "root", "namespace": namespace},
		"spec": map[string]any{"template": map[string]any{
			"metadata": map[string]any{"labels": map[string]any{"app": "root"}},
			"spec": map[string]any{"containers": []any{map[string]any{
				"name": "root", "image": "busybox:1", "securityContext": map[string]any{"privileged": true},
			}}},
		}},
	}, "")
	if !ok {
		t.Fatal("no pod template found in a Deployment")
	}
	err = admit(ctx, cs, p)
	for _, want := range []string{`violates PodSecurity "restricted:latest"`, "privileged", "allowPrivilegeEscalation != false", "runAsNonRoot != true", "seccompProfile"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error = %v\nwant one containing %s", err, want)
		}
	}
}
