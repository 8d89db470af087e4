// Package workload provides Workload: one Lamina application in the mesh, as the
// platform runs all of them. It has its own ServiceAccount (its mesh identity), pods that
// meet Pod Security restricted (a non-root user, no privilege escalation, every
// capability dropped, the runtime's seccomp profile), one HTTP port behind a Service of
// the same name, probes on a health path, and a PodDisruptionBudget when it has more than
// one replica.
package workload

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	policyv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/policy/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/spec"
)

// AppLabel is the label every pod carries with its workload's name; Services,
// NetworkPolicies and AuthorizationPolicies select on it.
const AppLabel = network.AppLabel

// Kinds of pod controller.
const (
	Deployment  = "Deployment"
	StatefulSet = "StatefulSet"
)

// Pull policies.
const (
	// PullNever runs an image built on the node's own Docker daemon.
	PullNever = "Never"
	// PullIfNotPresent runs a prebuilt image, pulled once.
	PullIfNotPresent = "IfNotPresent"
)

// Volume is a volume of the pod mounted into the container.
type Volume struct {
	Name      string
	MountPath string
	// SubPath mounts one file or directory of the volume.
	SubPath  string
	ReadOnly bool
	// Source is the volume: a claim, a ConfigMap...
	Source corev1.VolumeArgs
}

// WorkloadArgs describe one application.
type WorkloadArgs struct {
	// Name names the ServiceAccount, the controller, the Service and the pods' AppLabel.
	Name string
	// Namespace is the workload's namespace.
	Namespace pulumi.StringInput
	// Kind is Deployment or StatefulSet.
	Kind string
	// Replicas is the number of pods; more than one adds a PodDisruptionBudget that
	// keeps all but one up through a drain.
	Replicas int
	// Image and PullPolicy are the container's image.
	Image      pulumi.StringInput
	PullPolicy string
	// Command and Args override the image's entrypoint and command when set.
	Command, Args []string
	// Env is the container's environment as the component sets it; ExtraEnv, the
	// stack's own additions, follows it in name order.
	Env      corev1.EnvVarArray
	ExtraEnv map[string]string
	// Port is the container's and the Service's HTTP port.
	Port int
	// HealthPath is what the kubelet probes (through the sidecar's agent).
	HealthPath string
	// StartupSeconds is how long the application may take to start before the liveness
	// probe counts.
	StartupSeconds int
	// Resources are the container's requests and limits.
	Resources kube.Resources
	// RunAsUser and RunAsGroup are the container's user and group, RunAsGroup also the
	// pod's fsGroup.
	RunAsUser, RunAsGroup int
	// Volumes are mounted into the container.
	Volumes []Volume
	// PodAnnotations are added to the pod template: a checksum of mounted
	// configuration rolls the pods when it changes.
	PodAnnotations pulumi.StringMap
	// APIAccess mounts the service account's token: only workloads that read the
	// Kubernetes API get one.
	APIAccess bool
	// DependsOn are what the pods need first (claims, secrets, istio.Istio.Sidecars).
	DependsOn []pulumi.Resource
	// Devices are extended resources (a device plugin's, such as lamina.io/gpu) each pod
	// requests, by name: count.
	Devices map[string]int
	// Preflight, when set, is a command run from the same image, with the same user and
	// devices, before the application starts: a pod whose check fails never starts.
	Preflight []string
	// StopBeforeStart replaces a pod by stopping it before its replacement starts, even
	// with one replica (a brief outage): for pods whose resources cannot be held twice.
	StopBeforeStart bool
	// Placement chooses the nodes the pods may run on, by label and taint.
	Placement spec.Placement
}

// Workload is the application's resources.
type Workload struct {
	pulumi.ResourceState

	ServiceAccount *corev1.ServiceAccount
	Service        *corev1.Service
	// Controller is the Deployment or StatefulSet.
	Controller pulumi.CustomResource
	// Image is the image the pods run.
	Image pulumi.StringOutput
	// Host is the Service's in-cluster DNS name and URL its http:// address, both from
	// the declared Service.
	Host, URL pulumi.StringOutput
}

// NewWorkload declares the application.
func NewWorkload(ctx *pulumi.Context, name string, args WorkloadArgs, opts ...pulumi.ResourceOption) (*Workload, error) {
	w := &Workload{}
	if err := ctx.RegisterComponentResource("lamina:workload:Workload", name, w, opts...); err != nil {
		return nil, err
	}
	if args.Kind != Deployment && args.Kind != StatefulSet {
		return nil, fmt.Errorf("workload %s: kind %q is neither %s nor %s", name, args.Kind, Deployment, StatefulSet)
	}
	parent := pulumi.Parent(w)
	selector := map[string]string{AppLabel: args.Name}
	labels := kube.Labels(selector)
	var err error

	if w.ServiceAccount, err = corev1.NewServiceAccount(ctx, name+"-sa", &corev1.ServiceAccountArgs{
		Metadata:                     kube.Meta(args.Name, args.Namespace, selector),
		AutomountServiceAccountToken: pulumi.Bool(args.APIAccess),
	}, parent); err != nil {
		return nil, err
	}

	if w.Service, err = corev1.NewService(ctx, name+"-service", &corev1.ServiceArgs{
		Metadata: kube.Meta(args.Name, args.Namespace, selector),
		Spec: &corev1.ServiceSpecArgs{
			Type:     pulumi.String("ClusterIP"),
			Selector: pulumi.ToStringMap(selector),
			Ports: corev1.ServicePortArray{&corev1.ServicePortArgs{
				Name: pulumi.String("http"), AppProtocol: pulumi.String("http"), Protocol: pulumi.String("TCP"),
				Port: pulumi.Int(args.Port), TargetPort: pulumi.String("http"),
			}},
		},
	}, parent); err != nil {
		return nil, err
	}

	var mounts corev1.VolumeMountArray
	var volumes corev1.VolumeArray
	seen := map[string]bool{}
	for _, v := range args.Volumes {
		mounts = append(mounts, &corev1.VolumeMountArgs{
			Name: pulumi.String(v.Name), MountPath: pulumi.String(v.MountPath),
			SubPath: stringOrNil(v.SubPath), ReadOnly: boolOrNil(v.ReadOnly),
		})
		if !seen[v.Name] {
			seen[v.Name] = true
			src := v.Source
			src.Name = pulumi.String(v.Name)
			volumes = append(volumes, src)
		}
	}
	probe := func(period, failures int) *corev1.ProbeArgs {
		return &corev1.ProbeArgs{
			HttpGet:          &corev1.HTTPGetActionArgs{Path: pulumi.String(args.HealthPath), Port: pulumi.String("http")},
			PeriodSeconds:    pulumi.Int(period),
			TimeoutSeconds:   pulumi.Int(5),
			FailureThreshold: pulumi.Int(failures),
		}
	}
	env := slices.Clone(args.Env)
	for _, k := range slices.Sorted(maps.Keys(args.ExtraEnv)) {
		env = append(env, EnvVar(k, args.ExtraEnv[k]))
	}
	startup := max(args.StartupSeconds, 10)
	container := &corev1.ContainerArgs{
		Name:            pulumi.String(args.Name),
		Image:           args.Image,
		ImagePullPolicy: pulumi.String(args.PullPolicy),
		Command:         pulumi.ToStringArray(args.Command),
		Args:            pulumi.ToStringArray(args.Args),
		Env:             env,
		Ports: corev1.ContainerPortArray{&corev1.ContainerPortArgs{
			Name: pulumi.String("http"), ContainerPort: pulumi.Int(args.Port), Protocol: pulumi.String("TCP"),
		}},
		// The startup probe holds the others back while models or indexes load.
		StartupProbe:    probe(5, (startup+4)/5),
		ReadinessProbe:  probe(5, 3),
		LivenessProbe:   probe(10, 3),
		Resources:       resources(args.Resources, args.Devices),
		SecurityContext: ContainerSecurity(args.RunAsUser, args.RunAsGroup),
		VolumeMounts:    mounts,
	}
	var initContainers corev1.ContainerArray
	if len(args.Preflight) > 0 {
		// Small, and below the application's requests: it adds nothing to the pod's.
		check := kube.Resources{Requests: kube.Quantities{CPU: "50m", Memory: "64Mi"}, Limits: kube.Quantities{CPU: "1", Memory: "512Mi"}}
		initContainers = append(initContainers, &corev1.ContainerArgs{
			Name:            pulumi.String("preflight"),
			Image:           args.Image,
			ImagePullPolicy: pulumi.String(args.PullPolicy),
			Command:         pulumi.ToStringArray(args.Preflight),
			Resources:       resources(check, args.Devices),
			SecurityContext: ContainerSecurity(args.RunAsUser, args.RunAsGroup),
		})
	}
	annotations := pulumi.StringMap{}
	for _, k := range slices.Sorted(maps.Keys(args.PodAnnotations)) {
		annotations[k] = args.PodAnnotations[k]
	}
	template := &corev1.PodTemplateSpecArgs{
		Metadata: &metav1.ObjectMetaArgs{Labels: labels, Annotations: annotations},
		Spec: &corev1.PodSpecArgs{
			ServiceAccountName:           w.ServiceAccount.Metadata.Name().Elem(),
			AutomountServiceAccountToken: pulumi.Bool(args.APIAccess),
			SecurityContext:              PodSecurity(args.RunAsUser, args.RunAsGroup),
			InitContainers:               initContainers,
			Containers:                   corev1.ContainerArray{container},
			Volumes:                      volumes,
			NodeSelector:                 nodeSelector(args.Placement),
			Tolerations:                  tolerations(args.Placement),
			TopologySpreadConstraints:    spread(args.Kind, args.Replicas, selector),
		},
	}
	meta := kube.Meta(args.Name, args.Namespace, selector)
	sel := &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(selector)}
	deps := []pulumi.ResourceOption{parent, pulumi.DependsOn(args.DependsOn)}
	switch args.Kind {
	case Deployment:
		d, err := appsv1.NewDeployment(ctx, name, &appsv1.DeploymentArgs{
			Metadata: meta,
			Spec: &appsv1.DeploymentSpecArgs{
				Replicas: pulumi.Int(args.Replicas),
				Selector: sel,
				Strategy: rollout(args.Replicas, args.StopBeforeStart),
				Template: template,
			},
		}, deps...)
		if err != nil {
			return nil, err
		}
		w.Controller = d
	case StatefulSet:
		s, err := appsv1.NewStatefulSet(ctx, name, &appsv1.StatefulSetArgs{
			Metadata: meta,
			Spec: &appsv1.StatefulSetSpecArgs{
				Replicas:    pulumi.Int(args.Replicas),
				ServiceName: w.Service.Metadata.Name().Elem(),
				Selector:    sel,
				Template:    template,
			},
		}, deps...)
		if err != nil {
			return nil, err
		}
		w.Controller = s
	}
	if args.Replicas > 1 {
		if _, err := policyv1.NewPodDisruptionBudget(ctx, name+"-pdb", &policyv1.PodDisruptionBudgetArgs{
			Metadata: kube.Meta(args.Name, args.Namespace, selector),
			Spec: &policyv1.PodDisruptionBudgetSpecArgs{
				MaxUnavailable: pulumi.Int(1),
				Selector:       sel,
			},
		}, parent); err != nil {
			return nil, err
		}
	}
	w.Image = args.Image.ToStringOutput()
	service := pulumi.All(w.Service.Metadata.Name().Elem(), w.Service.Metadata.Namespace().Elem())
	w.Host = service.ApplyT(func(v []any) string { return kube.ServiceHost(v[0].(string), v[1].(string)) }).(pulumi.StringOutput)
	w.URL = service.ApplyT(func(v []any) string { return kube.ServiceURL(v[0].(string), v[1].(string), args.Port) }).(pulumi.StringOutput)
	if err := ctx.RegisterResourceOutputs(w, pulumi.Map{
		"service": w.Service.Metadata.Name().Elem(), "serviceAccount": w.ServiceAccount.Metadata.Name().Elem(), "image": w.Image,
	}); err != nil {
		return nil, err
	}
	return w, nil
}

// spread is spec.Spread as a pod template's constraints.
func spread(kind string, replicas int, selector map[string]string) corev1.TopologySpreadConstraintArray {
	var out corev1.TopologySpreadConstraintArray
	for _, c := range spec.Spread(replicas, selector, kind == Deployment) {
		args := &corev1.TopologySpreadConstraintArgs{
			MaxSkew: pulumi.Int(c.MaxSkew), TopologyKey: pulumi.String(c.TopologyKey), WhenUnsatisfiable: pulumi.String(c.WhenUnsatisfiable),
			LabelSelector:    &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(c.LabelSelector.MatchLabels)},
			NodeTaintsPolicy: pulumi.String(c.NodeTaintsPolicy),
		}
		if len(c.MatchLabelKeys) > 0 {
			args.MatchLabelKeys = pulumi.ToStringArray(c.MatchLabelKeys)
		}
		out = append(out, args)
	}
	return out
}

// nodeSelector and tolerations are a placement's, nil when it sets none.
func nodeSelector(p spec.Placement) pulumi.StringMapInput {
	if len(p.NodeSelector) == 0 {
		return nil
	}
	return pulumi.ToStringMap(p.NodeSelector)
}

func tolerations(p spec.Placement) corev1.TolerationArray {
	var out corev1.TolerationArray
	for _, t := range p.Tolerations {
		op := t.Operator
		if op == "" {
			op = "Equal"
		}
		tol := &corev1.TolerationArgs{Operator: pulumi.String(op)}
		if t.Key != "" {
			tol.Key = pulumi.String(t.Key)
		}
		if t.Value != "" {
			tol.Value = pulumi.String(t.Value)
		}
		if t.Effect != "" {
			tol.Effect = pulumi.String(t.Effect)
		}
		out = append(out, tol)
	}
	return out
}

// resources are a container's requests and limits, with devices (extended resources,
// which the kubelet needs in limits, and equal in requests).
func resources(r kube.Resources, devices map[string]int) *corev1.ResourceRequirementsArgs {
	requests := pulumi.StringMap{"cpu": pulumi.String(r.Requests.CPU), "memory": pulumi.String(r.Requests.Memory)}
	limits := pulumi.StringMap{"cpu": pulumi.String(r.Limits.CPU), "memory": pulumi.String(r.Limits.Memory)}
	for name, n := range devices {
		requests[name] = pulumi.String(strconv.Itoa(n))
		limits[name] = pulumi.String(strconv.Itoa(n))
	}
	return &corev1.ResourceRequirementsArgs{Requests: requests, Limits: limits}
}

// PodSecurity is the pod's part of Pod Security restricted: a non-root user and group
// (group also the fsGroup) and the runtime's seccomp profile.
func PodSecurity(user, group int) *corev1.PodSecurityContextArgs {
	return &corev1.PodSecurityContextArgs{
		RunAsNonRoot:   pulumi.Bool(true),
		RunAsUser:      pulumi.Int(user),
		RunAsGroup:     pulumi.Int(group),
		FsGroup:        pulumi.Int(group),
		SeccompProfile: &corev1.SeccompProfileArgs{Type: pulumi.String("RuntimeDefault")},
	}
}

// ContainerSecurity is the container's part of Pod Security restricted: non-root, no
// privilege or privilege escalation, every capability dropped.
func ContainerSecurity(user, group int) *corev1.SecurityContextArgs {
	return &corev1.SecurityContextArgs{
		RunAsNonRoot:             pulumi.Bool(true),
		RunAsUser:                pulumi.Int(user),
		RunAsGroup:               pulumi.Int(group),
		AllowPrivilegeEscalation: pulumi.Bool(false),
		Privileged:               pulumi.Bool(false),
		Capabilities:             &corev1.CapabilitiesArgs{Drop: pulumi.StringArray{pulumi.String("ALL")}},
	}
}

// EnvVar is a plain environment variable.
func EnvVar(name, value string) *corev1.EnvVarArgs {
	return &corev1.EnvVarArgs{Name: pulumi.String(name), Value: pulumi.String(value)}
}

// EnvVars are a component's settings (spec.Env, which the Docker target sets too) as a
// pod's environment, in their order.
func EnvVars(env spec.Env) corev1.EnvVarArray {
	out := make(corev1.EnvVarArray, 0, len(env))
	for _, v := range env {
		out = append(out, EnvVar(v.Name, v.Value))
	}
	return out
}

// rollout is how a Deployment replaces its pods. One replica: the new pod starts before
// the old one stops, so the service stays up (the capacity check counts that pod), unless
// stopFirst. Several, or stopFirst: one old pod stops before a new one starts, so a
// rollout of pods as large as llm-serve's needs no room beyond theirs, and the others
// keep serving.
func rollout(replicas int, stopFirst bool) *appsv1.DeploymentStrategyArgs {
	surge, unavailable := 0, 1
	if replicas == 1 && !stopFirst {
		surge, unavailable = 1, 0
	}
	return &appsv1.DeploymentStrategyArgs{
		Type:          pulumi.String("RollingUpdate"),
		RollingUpdate: &appsv1.RollingUpdateDeploymentArgs{MaxSurge: pulumi.Int(surge), MaxUnavailable: pulumi.Int(unavailable)},
	}
}

// boolOrNil leaves false unset, as the API server stores it.
func boolOrNil(b bool) pulumi.BoolPtrInput {
	if !b {
		return nil
	}
	return pulumi.Bool(true)
}

// stringOrNil leaves "" unset, as the API server stores it.
func stringOrNil(s string) pulumi.StringPtrInput {
	if s == "" {
		return nil
	}
	return pulumi.String(s)
}
