package recorder

import (
	"bytes"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type thing struct {
	pulumi.CustomResourceState
	Out pulumi.StringOutput `pulumi:"out"`
}

// program declares a, then c and b, which wait for a. The graph lists a first, then b
// and c by URN, whatever order the registrations complete in.
func program(ctx *pulumi.Context) error {
	var a, b, c thing
	if err := ctx.RegisterResource("test:index:Thing", "a", pulumi.Map{"n": pulumi.Int(1)}, &a,
		pulumi.AdditionalSecretOutputs([]string{"out"})); err != nil {
		return err
	}
	if err := ctx.RegisterResource("test:index:Thing", "c", pulumi.Map{"n": pulumi.Int(3)}, &c,
		pulumi.DependsOn([]pulumi.Resource{&a}), pulumi.Protect(true), pulumi.IgnoreChanges([]string{"n"})); err != nil {
		return err
	}
	if err := ctx.RegisterResource("test:index:Thing", "b", pulumi.Map{
		"fromA":    a.Out,
		"password": pulumi.ToSecret(pulumi.String("hunter2")),
	}, &b, pulumi.RetainOnDelete(true)); err != nil {
		return err
	}
	ctx.Export("plain", pulumi.String("x"))
	ctx.Export("secret", pulumi.ToSecret(pulumi.String("hunter2")))
	ctx.Export("fromA", pulumi.Map{"n": pulumi.Int(1), "out": b.Out})
	return nil
}

func TestGraphOrderOptionsAndMasks(t *testing.T) {
	g, err := Run(Options{Project: "p", Stack: "s", Preview: true}, program)
	require.NoError(t, err)

	var names []string
	for _, r := range g.Resources {
		names = append(names, r.Name)
	}
	assert.Equal(t, []string{"a", "b", "c"}, names, "a first: b and c wait for it")

	a, b, c := g.Find("test:index:Thing", "a"), g.Find("test:index:Thing", "b"), g.Find("test:index:Thing", "c")
	assert.Equal(t, "urn:pulumi:s::p::test:index:Thing::a", a.URN)
	assert.Equal(t, []string{a.URN}, b.Dependencies, "implied by an input")
	assert.Equal(t, []string{a.URN}, c.Dependencies, "explicit dependsOn")
	assert.True(t, c.Protect)
	assert.Equal(t, []string{"n"}, c.IgnoreChanges)
	assert.True(t, b.RetainOnDelete)
	assert.Equal(t, []string{"out"}, a.AdditionalSecretOutputs)

	// a's out is secret, so in a preview b sees the mask rather than an unknown.
	assert.Equal(t, SecretMask, b.Inputs["fromA"])
	assert.Equal(t, SecretMask, b.Inputs["password"])
	assert.Equal(t, "hunter2", b.Raw()["password"].SecretValue().Element.StringValue())

	assert.Equal(t, map[string]any{"plain": "x", "secret": SecretMask,
		"fromA": map[string]any{"n": float64(1), "out": UnknownMask}}, g.Outputs)

	var js bytes.Buffer
	require.NoError(t, g.WriteJSON(&js))
	assert.NotContains(t, js.String(), "hunter2")
}

func TestOutputsHookSuppliesCreatedValues(t *testing.T) {
	g, err := Run(Options{Project: "p", Stack: "s", Outputs: func(r *Resource) resource.PropertyMap {
		return resource.PropertyMap{"out": resource.NewProperty("made-by-" + r.Name)}
	}}, program)
	require.NoError(t, err)
	b := g.Find("test:index:Thing", "b")
	assert.Equal(t, SecretMask, b.Inputs["fromA"], "a's out is an additional secret output")
	assert.Equal(t, "made-by-a", b.Raw()["fromA"].SecretValue().Element.StringValue())
	assert.Equal(t, map[string]any{"n": float64(1), "out": "made-by-b"}, g.Outputs["fromA"])
}

func TestDuplicateURNsAreRefusedAsTheEngineDoes(t *testing.T) {
	_, err := Run(Options{Project: "p", Stack: "s", Preview: true}, func(ctx *pulumi.Context) error {
		var a, b thing
		if err := ctx.RegisterResource("test:index:Thing", "same", pulumi.Map{}, &a); err != nil {
			return err
		}
		return ctx.RegisterResource("test:index:Thing", "same", pulumi.Map{}, &b)
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "duplicate resource URN urn:pulumi:s::p::test:index:Thing::same")
}
