package stacks

import (
	"fmt"
	"path"
	"reflect"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/colima"
	"github.com/lamina-os/lamina-infra/components/dashboard"
	"github.com/lamina-os/lamina-infra/components/llmserve"
	"github.com/lamina-os/lamina-infra/internal/outputs"
	"github.com/lamina-os/lamina-infra/stacks/config"
)

// Outputs are a stack's outputs as the program makes them: one field per output of the
// contract, named as the field of internal/outputs.Stack that reads it, whose JSON tag
// is the output's name. A nil field is an output this stack does not have. Both targets
// fill one value (newOutputs, then their own fields), and Build exports it once.
type Outputs struct {
	SchemaVersion  pulumi.IntInput
	Stack          pulumi.StringInput
	Profile        pulumi.StringInput
	ClusterTarget  pulumi.StringInput
	Kubeconfig     pulumi.StringInput
	KubeContext    pulumi.StringInput
	Nodes          pulumi.StringArrayInput
	StorageClass   pulumi.StringInput
	Namespaces     pulumi.StringArrayInput
	DataDir        pulumi.StringInput
	DataDirs       pulumi.StringMapInput
	ModelsDir      pulumi.StringInput
	ColimaProfile  pulumi.StringInput
	VM             pulumi.MapInput
	DockerHost     pulumi.StringInput
	GatewayAddress pulumi.StringInput
	URLs           pulumi.StringMapInput
	LLMURL         pulumi.StringInput
	DashboardURL   pulumi.StringInput
	MTLSMode       pulumi.StringInput
	GrafanaUser    pulumi.StringInput
	GrafanaPass    pulumi.StringInput
	Images         pulumi.MapInput
	Tenants        pulumi.MapInput
	Platform       pulumi.StringInput
	Build          pulumi.MapInput
	CACertificate  pulumi.StringInput
}

// newOutputs are the outputs every stack has: what it is, where its data lives, and the
// URL of each hostname the gateway at address serves (urls, by hostname without the
// domain), of which llm-serve's and the dashboard's have an output of their own.
func newOutputs(ctx *pulumi.Context, cfg *config.Config, address string, urls map[string]string, dataSubdirs []string) Outputs {
	named := pulumi.StringMap{}
	for host, url := range urls {
		named[host+"."+cfg.Edge.Domain] = pulumi.String(url)
	}
	out := Outputs{
		SchemaVersion:  pulumi.Int(outputs.SchemaVersion),
		Stack:          pulumi.String(ctx.Stack()),
		Profile:        pulumi.String(cfg.Profile),
		ClusterTarget:  pulumi.String(cfg.Cluster.Target),
		GatewayAddress: pulumi.String(address),
		URLs:           named,
		LLMURL:         pulumi.String(urls[llmserve.Host]),
		DashboardURL:   pulumi.String(urls[dashboard.Host]),
		MTLSMode:       pulumi.String("STRICT"),
	}
	// An existing cluster's volumes are claims of its classes: no directory holds them.
	if cfg.Cluster.Target != config.TargetExisting {
		dataDirs := pulumi.StringMap{}
		for _, sub := range dataSubdirs {
			dataDirs[sub] = pulumi.String(path.Join(cfg.Data.Dir, sub))
		}
		out.DataDir, out.DataDirs = pulumi.String(cfg.Data.Dir), dataDirs
		out.ModelsDir = pulumi.String(path.Join(cfg.Data.Dir, modelsVolume))
	}
	return out
}

// withVM adds the Colima VM's profile, size and Docker daemon.
func (o *Outputs) withVM(vm *colima.ColimaVM) {
	o.ColimaProfile = vm.Profile
	o.VM = pulumi.Map{"cpus": vm.CPUs, "memoryGiB": vm.MemoryGiB, "diskGiB": vm.DiskGiB, "address": vm.Address}
	o.DockerHost = vm.DockerHost
}

// export exports every output the stack has, each by the name the contract gives it.
func (o Outputs) export(ctx *pulumi.Context) error {
	v := reflect.ValueOf(o)
	contract := reflect.TypeFor[outputs.Stack]()
	if v.NumField() != contract.NumField() {
		return fmt.Errorf("stacks.Outputs has %d fields and outputs.Stack, the outputs' contract, %d: give each output one field in both", v.NumField(), contract.NumField())
	}
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		field, ok := contract.FieldByName(name)
		if !ok {
			return fmt.Errorf("stacks.Outputs.%s is no field of outputs.Stack, the outputs' contract", name)
		}
		if value := v.Field(i); !value.IsNil() {
			ctx.Export(field.Tag.Get("json"), value.Interface().(pulumi.Input))
		}
	}
	return nil
}
