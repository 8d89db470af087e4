package stacks_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/policy"
	"github.com/lamina-os/lamina-infra/stacks/offline"
)

func loadPack(t *testing.T) *policy.Pack {
	t.Helper()
	pack, err := policy.Load()
	if err != nil {
		t.Fatal(err)
	}
	return pack
}

func TestEveryStackPassesThePolicyPack(t *testing.T) {
	pack := loadPack(t)
	production := preview(t, stackSource(t, "production", nil))
	for _, stack := range allStacks {
		t.Run(stack, func(t *testing.T) {
			g := preview(t, stackSource(t, stack, nil))
			// Staging is checked on the cluster it shares: production's mesh-wide
			// policy is what makes its namespaces STRICT.
			var cluster []*recorder.Graph
			if stack == "staging" {
				cluster = append(cluster, production)
			}
			report, err := offline.Check(context.Background(), pack, g, cluster...)
			if err != nil {
				t.Fatal(err)
			}
			if report.Resources != len(g.Resources) || report.Resources < 50 {
				t.Errorf("checked %d resources, the stack declares %d", report.Resources, len(g.Resources))
			}
			for _, v := range report.Violations {
				t.Errorf("[%s] %s on %s: %s", v.Level, v.Policy, v.URN, v.Message)
			}
		})
	}
}

// A change to the program that makes the mesh-wide mode PERMISSIVE: the pack's resource
// rule blocks it in `pulumi preview`, and `lamina check` also finds the mesh without a
// mesh-wide STRICT policy.
func TestPermissiveMeshWideModeFailsTheCheck(t *testing.T) {
	src := stackSource(t, "development", nil)
	permissive := func(ctx *pulumi.Context) error {
		return ctx.RegisterStackTransformation(func(args *pulumi.ResourceTransformationArgs) *pulumi.ResourceTransformationResult {
			if args.Type != "kubernetes:security.istio.io/v1:PeerAuthentication" || args.Name != "istio-mesh-mtls" {
				return nil
			}
			props := args.Props.(kubernetes.UntypedArgs)
			props["spec"] = pulumi.Map{"mtls": pulumi.Map{"mode": pulumi.String("PERMISSIVE")}}
			return &pulumi.ResourceTransformationResult{Props: args.Props, Opts: args.Opts}
		})
	}
	g, err := offline.Run(src, nil, recorder.Options{Preview: true, Before: permissive})
	if err != nil {
		t.Fatal(err)
	}
	report, err := offline.Check(context.Background(), loadPack(t), g)
	if err != nil {
		t.Fatal(err)
	}
	mesh := g.Find("kubernetes:security.istio.io/v1:PeerAuthentication", "istio-mesh-mtls")
	want := []policy.Violation{
		{Policy: "deny_peer_authentication_not_strict", URN: mesh.URN, Level: policy.Mandatory,
			Message: "PeerAuthentication istio-system/default sets mTLS mode PERMISSIVE; only STRICT is allowed: set spec.mtls.mode (and every spec.portLevelMtls mode) to STRICT"},
		{Policy: policy.StackMeshWideStrict, URN: "urn:pulumi:development::lamina-infra::pulumi:pulumi:Stack::lamina-infra-development", Level: policy.Mandatory,
			Message: "no mesh-wide PeerAuthentication: declare one in the root namespace istio-system with no selector and spec.mtls.mode STRICT"},
	}
	if len(report.Violations) != len(want) {
		t.Fatalf("violations = %+v, want %+v", report.Violations, want)
	}
	for i := range want {
		if report.Violations[i] != want[i] {
			t.Errorf("violation %d = %+v, want %+v", i, report.Violations[i], want[i])
		}
	}
	var out strings.Builder
	if err := report.Write(&out); err != nil {
		t.Fatal(err)
	}
	summary := fmt.Sprintf("development: %d resources checked against lamina@v1.0.0 (16 policies, 5 stack-wide checks): 2 mandatory, 0 advisory violations", len(g.Resources))
	if !strings.Contains(out.String(), summary) {
		t.Errorf("summary:\n%s", out.String())
	}
}
