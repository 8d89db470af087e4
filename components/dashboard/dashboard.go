// Package dashboard provides Dashboard: the Lamina dashboard with read-only access to the
// cluster (get, list and watch, nothing else).
package dashboard

import (
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	rbacv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/rbac/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/components/workload"
	"github.com/lamina-os/lamina-infra/internal/kube"
)

// Names and ports of the dashboard.
const (
	// Name is the Service, Deployment and service account.
	Name       = "lamina-dashboard"
	Port       = 5001
	HealthPath = "/"
	// StartupSeconds is how long it may take to answer HealthPath after a start.
	StartupSeconds = 120
)

// ReadVerbs are the only verbs the dashboard is granted.
var ReadVerbs = []string{"get", "list", "watch"}

// Rule is what the dashboard may read: resources of an API group.
type Rule struct {
	Group     string
	Resources []string
}

// Reads is everything the dashboard shows.
var Reads = []Rule{
	{Group: "", Resources: []string{"pods", "services", "namespaces", "endpoints"}},
	{Group: "apps", Resources: []string{"deployments", "replicasets"}},
	{Group: "networking.istio.io", Resources: []string{"virtualservices", "gateways"}},
}

// Host is the hostname's first label the dashboard is served under.
const Host = "dashboard"

// DashboardArgs configure the dashboard.
type DashboardArgs struct {
	Namespace pulumi.StringInput
	// NamespaceName is the namespace's name, for the binding's subject.
	NamespaceName string
	Image         pulumi.StringInput
	PullPolicy    string
	// PrometheusURL is the Prometheus the dashboard queries, and Prometheus its pods
	// and port; APIServer is where the dashboard reads the cluster.
	PrometheusURL         string
	Prometheus, APIServer network.Endpoint
	Resources             kube.Resources
	// RunAsUser and RunAsGroup are the dashboard's user and group.
	RunAsUser, RunAsGroup int
	// Env is extra environment.
	Env       map[string]string
	DependsOn []pulumi.Resource
}

// Dashboard is the dashboard and its read-only role.
type Dashboard struct {
	pulumi.ResourceState

	Workload *workload.Workload
	Role     *rbacv1.ClusterRole

	// The queries to Prometheus, the reads of the API server and the hostname.
	network.Declaration
}

// NewDashboard declares the dashboard.
func NewDashboard(ctx *pulumi.Context, name string, args DashboardArgs, opts ...pulumi.ResourceOption) (*Dashboard, error) {
	d := &Dashboard{}
	if err := ctx.RegisterComponentResource("lamina:dashboard:Dashboard", name, d, opts...); err != nil {
		return nil, err
	}
	parent := pulumi.Parent(d)
	var rules rbacv1.PolicyRuleArray
	for _, r := range Reads {
		rules = append(rules, &rbacv1.PolicyRuleArgs{
			ApiGroups: pulumi.StringArray{pulumi.String(r.Group)},
			Resources: pulumi.ToStringArray(r.Resources),
			Verbs:     pulumi.ToStringArray(ReadVerbs),
		})
	}
	var err error
	// Cluster-wide, so named after the namespace: two stacks' dashboards on one cluster
	// (production and staging) each have their own.
	clusterRole := args.NamespaceName + "-read"
	if d.Role, err = rbacv1.NewClusterRole(ctx, name+"-read", &rbacv1.ClusterRoleArgs{
		Metadata: kube.Meta(clusterRole, nil, map[string]string{workload.AppLabel: Name}),
		Rules:    rules,
	}, parent); err != nil {
		return nil, err
	}
	env := corev1.EnvVarArray{
		&corev1.EnvVarArgs{Name: pulumi.String("KUBERNETES_NAMESPACE"), ValueFrom: &corev1.EnvVarSourceArgs{
			FieldRef: &corev1.ObjectFieldSelectorArgs{FieldPath: pulumi.String("metadata.namespace")}}},
		workload.EnvVar("PROMETHEUS_URL", args.PrometheusURL),
	}
	if d.Workload, err = workload.NewWorkload(ctx, name, workload.WorkloadArgs{
		Name: Name, Namespace: args.Namespace, Kind: workload.Deployment, Replicas: 1,
		Image: args.Image, PullPolicy: args.PullPolicy, Env: env, ExtraEnv: args.Env,
		Port: Port, HealthPath: HealthPath, StartupSeconds: StartupSeconds,
		Resources: args.Resources, RunAsUser: args.RunAsUser, RunAsGroup: args.RunAsGroup,
		APIAccess: true, DependsOn: args.DependsOn,
	}, parent); err != nil {
		return nil, err
	}
	if _, err := rbacv1.NewClusterRoleBinding(ctx, name+"-read", &rbacv1.ClusterRoleBindingArgs{
		Metadata: kube.Meta(clusterRole, nil, map[string]string{workload.AppLabel: Name}),
		RoleRef: &rbacv1.RoleRefArgs{
			ApiGroup: pulumi.String("rbac.authorization.k8s.io"), Kind: pulumi.String("ClusterRole"),
			Name: d.Role.Metadata.Name().Elem(),
		},
		Subjects: rbacv1.SubjectArray{&rbacv1.SubjectArgs{
			Kind: pulumi.String("ServiceAccount"), Name: d.Workload.ServiceAccount.Metadata.Name().Elem(),
			Namespace: pulumi.String(args.NamespaceName),
		}},
	}, parent); err != nil {
		return nil, err
	}
	self := network.App(args.NamespaceName, Name).As(Name)
	d.Open(args.Prometheus.From("dashboard-to-prometheus", self),
		args.APIServer.From("apiserver", network.Namespace(args.NamespaceName)))
	d.Serve(network.Route{Host: Host, Namespace: args.NamespaceName, Service: Name, Port: Port})
	if err := ctx.RegisterResourceOutputs(d, pulumi.Map{"image": d.Workload.Image}); err != nil {
		return nil, err
	}
	return d, nil
}
