package stacks

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/core"
	"github.com/lamina-os/lamina-infra/components/dashboard"
	"github.com/lamina-os/lamina-infra/components/llmserve"
)

// laminaWorkloads are the workloads whose images the program builds, and promotes.
var laminaWorkloads = []string{llmserve.Name, core.Name, dashboard.Name}

// contentAddressed matches the references a promotion takes: repository:<image ID>, as
// a build on the shared daemon is tagged (images.ContentRef), or name@sha256:<digest>.
var contentAddressed = regexp.MustCompile(`^[a-z0-9]+([._/-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[0-9a-f]{64}|(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?@sha256:[0-9a-f]{64})$`)

// promotedImages reads the Lamina images of stack from, by workload, from its images
// output: each must be content-addressed, so that this stack runs exactly what that one
// ran. Anything else stops the run before a resource uses it.
func promotedImages(ctx *pulumi.Context, from string) (map[string]pulumi.StringOutput, error) {
	ref, err := stackReference(ctx, "promote-from", from)
	if err != nil {
		return nil, err
	}
	// One check of every image, in order, so that a refusal names each one that cannot
	// be promoted, the same way every run.
	checked := ref.GetOutput(pulumi.String("images")).ApplyT(func(v any) (map[string]string, error) {
		images, _ := v.(map[string]any)
		ok := map[string]string{}
		var refused []string
		for _, workload := range laminaWorkloads {
			image, _ := images[workload].(string)
			if err := promotable(from, workload, image); err != nil {
				refused = append(refused, err.Error())
				continue
			}
			ok[workload] = image
		}
		if len(refused) > 0 {
			return nil, errors.New(strings.Join(refused, "\n"))
		}
		return ok, nil
	}).(pulumi.StringMapOutput)
	out := map[string]pulumi.StringOutput{}
	for _, workload := range laminaWorkloads {
		out[workload] = checked.MapIndex(pulumi.String(workload))
	}
	return out, nil
}

// promotable says why image, stack from's image of workload, cannot be promoted.
func promotable(from, workload, image string) error {
	switch {
	case image == "":
		return fmt.Errorf("lamina:images.promoteFrom: stack %s has no image of %s in its images output; run pulumi up -s %s first", from, workload, from)
	case !contentAddressed.MatchString(image):
		return fmt.Errorf("lamina:images.promoteFrom: stack %s runs %s as %q, which is not content-addressed, so what it tested cannot be told from what would run here; allowed: repository:<64-hex image ID> as a build tags it, or name@sha256:<digest> (build the image in %s, or give it a digest there)",
			from, workload, image, from)
	}
	return nil
}

// stackReference reads the outputs of stack, another stack of this project: as
// organization/project/stack, which both Pulumi Cloud and a DIY backend accept.
func stackReference(ctx *pulumi.Context, name, stack string) (*pulumi.StackReference, error) {
	org := ctx.Organization()
	if org == "" {
		org = "organization" // a DIY backend's, which the Go SDK reports only sometimes
	}
	return pulumi.NewStackReference(ctx, name, &pulumi.StackReferenceArgs{Name: pulumi.String(org + "/" + ctx.Project() + "/" + stack)})
}
