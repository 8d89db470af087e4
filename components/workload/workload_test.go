// Tests of the workload component on its own, under Pulumi's mocks (internal/recorder):
// that its pods meet Pod Security restricted, that the Service, the container port and
// the probes agree on one named HTTP port, that a PodDisruptionBudget and a stop-first
// rollout come exactly with more than one replica, and that resources, devices,
// environment, volumes and dependencies reach the pods as declared.
package workload_test

import (
	"testing"

	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lamina-os/lamina-infra/components/workload"
	"github.com/lamina-os/lamina-infra/internal/kube"
	"github.com/lamina-os/lamina-infra/internal/recorder"
	"github.com/lamina-os/lamina-infra/internal/recorder/recordertest"
	"github.com/lamina-os/lamina-infra/internal/spec"
)

const (
	deploymentType     = "kubernetes:apps/v1:Deployment"
	statefulSetType    = "kubernetes:apps/v1:StatefulSet"
	serviceType        = "kubernetes:core/v1:Service"
	serviceAccountType = "kubernetes:core/v1:ServiceAccount"
	pdbType            = "kubernetes:policy/v1:PodDisruptionBudget"
	claimType          = "test:index:Claim"
)

// base is one application as a stack declares it.
func base() workload.WorkloadArgs {
	return workload.WorkloadArgs{
		Name:           "lamina-core",
		Namespace:      pulumi.String("lamina-system"),
		Kind:           workload.Deployment,
		Replicas:       1,
		Image:          pulumi.String("lamina/core:1.2.3"),
		PullPolicy:     workload.PullIfNotPresent,
		Port:           8080,
		HealthPath:     "/health",
		StartupSeconds: 120,
		Resources:      kube.Resources{Requests: kube.Quantities{CPU: "250m", Memory: "256Mi"}, Limits: kube.Quantities{CPU: "2", Memory: "1Gi"}},
		RunAsUser:      10001,
		RunAsGroup:     10002,
	}
}

// declare runs NewWorkload on args as edit changes them (edit may declare other
// resources on ctx first) and exports the workload's Host and URL.
func declare(t *testing.T, edit func(ctx *pulumi.Context, a *workload.WorkloadArgs)) (*recorder.Graph, error) {
	t.Helper()
	return recorder.Run(recorder.Options{Project: "lamina", Stack: "test"}, func(ctx *pulumi.Context) error {
		a := base()
		if edit != nil {
			edit(ctx, &a)
		}
		w, err := workload.NewWorkload(ctx, "core", a)
		if err != nil {
			return err
		}
		ctx.Export("host", w.Host)
		ctx.Export("url", w.URL)
		return nil
	})
}

func podSpec(t *testing.T, controller *recorder.Resource) map[string]any {
	t.Helper()
	return recordertest.At(t, controller.Inputs, "spec", "template", "spec").(map[string]any)
}

// The pod and each of its containers, the preflight check's too, meet Pod Security
// restricted with the workload's user and group (the group owns the volumes), and no
// service account token is mounted unless the workload reads the API.
func TestPodsMeetPodSecurityRestricted(t *testing.T) {
	g, err := declare(t, func(_ *pulumi.Context, a *workload.WorkloadArgs) {
		a.Preflight = []string{"check-gpu"}
	})
	require.NoError(t, err)
	pod := podSpec(t, recordertest.Find(t, g, deploymentType, "core"))
	assert.Equal(t, map[string]any{
		"runAsNonRoot": true, "runAsUser": float64(10001), "runAsGroup": float64(10002), "fsGroup": float64(10002),
		"seccompProfile": map[string]any{"type": "RuntimeDefault"},
	}, pod["securityContext"])
	restricted := map[string]any{
		"runAsNonRoot": true, "runAsUser": float64(10001), "runAsGroup": float64(10002),
		"allowPrivilegeEscalation": false, "privileged": false,
		"capabilities": map[string]any{"drop": []any{"ALL"}},
	}
	assert.Equal(t, restricted, recordertest.At(t, pod, "containers", 0, "securityContext"))
	assert.Equal(t, "preflight", recordertest.At(t, pod, "initContainers", 0, "name"))
	assert.Equal(t, []any{"check-gpu"}, recordertest.At(t, pod, "initContainers", 0, "command"))
	assert.Equal(t, "lamina/core:1.2.3", recordertest.At(t, pod, "initContainers", 0, "image"), "the check runs from the application's image")
	assert.Equal(t, restricted, recordertest.At(t, pod, "initContainers", 0, "securityContext"))

	assert.Equal(t, false, pod["automountServiceAccountToken"])
	assert.Equal(t, false, recordertest.Find(t, g, serviceAccountType, "core-sa").Inputs["automountServiceAccountToken"])
	assert.Equal(t, "lamina-core", pod["serviceAccountName"], "its own identity")

	g, err = declare(t, func(_ *pulumi.Context, a *workload.WorkloadArgs) { a.APIAccess = true })
	require.NoError(t, err)
	assert.Equal(t, true, podSpec(t, recordertest.Find(t, g, deploymentType, "core"))["automountServiceAccountToken"])
	assert.Equal(t, true, recordertest.Find(t, g, serviceAccountType, "core-sa").Inputs["automountServiceAccountToken"])
}

// One HTTP port, named http: the Service of the workload's name forwards to it by name,
// the probes reach it by name on the health path, and the Host and URL name the Service.
// The startup probe allows StartupSeconds (at least 10) before liveness counts.
func TestServicePortAndProbesShareTheNamedHTTPPort(t *testing.T) {
	g, err := declare(t, nil)
	require.NoError(t, err)
	svc := recordertest.Find(t, g, serviceType, "core-service")
	assert.Equal(t, map[string]any{"name": "lamina-core", "namespace": "lamina-system", "labels": map[string]any{
		"app.kubernetes.io/name": "lamina-core", "app.kubernetes.io/managed-by": "pulumi", "app.kubernetes.io/part-of": "lamina",
	}}, svc.Inputs["metadata"])
	assert.Equal(t, map[string]any{
		"type":     "ClusterIP",
		"selector": map[string]any{"app.kubernetes.io/name": "lamina-core"},
		"ports":    []any{map[string]any{"name": "http", "appProtocol": "http", "protocol": "TCP", "port": float64(8080), "targetPort": "http"}},
	}, svc.Inputs["spec"])

	d := recordertest.Find(t, g, deploymentType, "core")
	pod := podSpec(t, d)
	assert.Equal(t, map[string]any{"app.kubernetes.io/name": "lamina-core"}, recordertest.At(t, d.Inputs, "spec", "selector", "matchLabels"))
	assert.Equal(t, "lamina-core", recordertest.At(t, d.Inputs, "spec", "template", "metadata", "labels", "app.kubernetes.io/name"), "the Service selects the pods")
	c := recordertest.At(t, pod, "containers", 0).(map[string]any)
	assert.Equal(t, []any{map[string]any{"name": "http", "containerPort": float64(8080), "protocol": "TCP"}}, c["ports"])
	get := map[string]any{"path": "/health", "port": "http"}
	assert.Equal(t, map[string]any{"httpGet": get, "periodSeconds": float64(5), "timeoutSeconds": float64(5), "failureThreshold": float64(24)}, c["startupProbe"], "120 s")
	assert.Equal(t, map[string]any{"httpGet": get, "periodSeconds": float64(5), "timeoutSeconds": float64(5), "failureThreshold": float64(3)}, c["readinessProbe"])
	assert.Equal(t, map[string]any{"httpGet": get, "periodSeconds": float64(10), "timeoutSeconds": float64(5), "failureThreshold": float64(3)}, c["livenessProbe"])

	assert.Equal(t, "lamina-core.lamina-system.svc.cluster.local", g.Outputs["host"])
	assert.Equal(t, "http://lamina-core.lamina-system.svc.cluster.local:8080", g.Outputs["url"])

	for seconds, failures := range map[int]float64{0: 2, 7: 2, 11: 3} {
		g, err := declare(t, func(_ *pulumi.Context, a *workload.WorkloadArgs) { a.StartupSeconds = seconds })
		require.NoError(t, err)
		c := recordertest.At(t, podSpec(t, recordertest.Find(t, g, deploymentType, "core")), "containers", 0)
		assert.Equal(t, failures, recordertest.At(t, c, "startupProbe", "failureThreshold"), "startup %d s", seconds)
	}
}

// More than one replica: a PodDisruptionBudget keeps all but one up through a drain,
// and a rollout stops one old pod before starting a new one. One replica: no budget (it
// would block every drain), and the new pod starts first unless StopBeforeStart.
func TestDisruptionBudgetAndRolloutFollowTheReplicas(t *testing.T) {
	for _, tc := range []struct {
		name               string
		replicas           int
		stopFirst, budget  bool
		surge, unavailable float64
	}{
		{"one replica", 1, false, false, 1, 0},
		{"one replica stopped first", 1, true, false, 0, 1},
		{"two replicas", 2, false, true, 0, 1},
		{"three replicas", 3, false, true, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := declare(t, func(_ *pulumi.Context, a *workload.WorkloadArgs) {
				a.Replicas, a.StopBeforeStart = tc.replicas, tc.stopFirst
			})
			require.NoError(t, err)
			d := recordertest.Find(t, g, deploymentType, "core")
			assert.Equal(t, float64(tc.replicas), recordertest.At(t, d.Inputs, "spec", "replicas"))
			assert.Equal(t, map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": tc.surge, "maxUnavailable": tc.unavailable}},
				recordertest.At(t, d.Inputs, "spec", "strategy"))
			pdb := g.Find(pdbType, "core-pdb")
			if !tc.budget {
				assert.Nil(t, pdb)
				return
			}
			require.NotNil(t, pdb)
			assert.Equal(t, "lamina-system", recordertest.At(t, pdb.Inputs, "metadata", "namespace"))
			assert.Equal(t, map[string]any{"maxUnavailable": float64(1), "selector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "lamina-core"}}},
				pdb.Inputs["spec"])
		})
	}
}

// The container's requests and limits are the workload's; each device is requested and
// limited equally on the application and on its preflight check, whose own CPU and
// memory stay below the application's.
func TestResourcesAndDevicesReachTheContainers(t *testing.T) {
	g, err := declare(t, func(_ *pulumi.Context, a *workload.WorkloadArgs) {
		a.Devices = map[string]int{"lamina.io/gpu": 1}
		a.Preflight = []string{"check-gpu"}
	})
	require.NoError(t, err)
	pod := podSpec(t, recordertest.Find(t, g, deploymentType, "core"))
	assert.Equal(t, map[string]any{
		"requests": map[string]any{"cpu": "250m", "memory": "256Mi", "lamina.io/gpu": "1"},
		"limits":   map[string]any{"cpu": "2", "memory": "1Gi", "lamina.io/gpu": "1"},
	}, recordertest.At(t, pod, "containers", 0, "resources"))
	assert.Equal(t, map[string]any{
		"requests": map[string]any{"cpu": "50m", "memory": "64Mi", "lamina.io/gpu": "1"},
		"limits":   map[string]any{"cpu": "1", "memory": "512Mi", "lamina.io/gpu": "1"},
	}, recordertest.At(t, pod, "initContainers", 0, "resources"))

	g, err = declare(t, nil)
	require.NoError(t, err)
	pod = podSpec(t, recordertest.Find(t, g, deploymentType, "core"))
	assert.Equal(t, map[string]any{"cpu": "250m", "memory": "256Mi"}, recordertest.At(t, pod, "containers", 0, "resources", "requests"), "no device, none requested")
	assert.Nil(t, pod["initContainers"], "no preflight, no init container")
}

// The stack's extra environment follows the component's own, in name order; a volume
// mounted twice (two files of one ConfigMap) is one volume of the pod; unset subPath and
// readOnly are left out; pod annotations reach the template.
func TestEnvVolumesAndAnnotationsReachThePod(t *testing.T) {
	g, err := declare(t, func(_ *pulumi.Context, a *workload.WorkloadArgs) {
		a.Env = corev1.EnvVarArray{workload.EnvVar("LAMINA_PORT", "8080")}
		a.ExtraEnv = map[string]string{"ZED": "z", "MIKE": "m", "ALPHA": "a", "BRAVO": "b"}
		config := corev1.VolumeArgs{ConfigMap: &corev1.ConfigMapVolumeSourceArgs{Name: pulumi.String("core-config")}}
		a.Volumes = []workload.Volume{
			{Name: "config", MountPath: "/etc/lamina/a.yaml", SubPath: "a.yaml", ReadOnly: true, Source: config},
			{Name: "config", MountPath: "/etc/lamina/b.yaml", SubPath: "b.yaml", ReadOnly: true, Source: config},
			{Name: "data", MountPath: "/data", Source: corev1.VolumeArgs{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSourceArgs{ClaimName: pulumi.String("core-data")}}},
		}
		a.PodAnnotations = pulumi.StringMap{"lamina.io/config-checksum": pulumi.String("abc123")}
	})
	require.NoError(t, err)
	d := recordertest.Find(t, g, deploymentType, "core")
	pod := podSpec(t, d)
	c := recordertest.At(t, pod, "containers", 0).(map[string]any)
	assert.Equal(t, []any{
		map[string]any{"name": "LAMINA_PORT", "value": "8080"},
		map[string]any{"name": "ALPHA", "value": "a"},
		map[string]any{"name": "BRAVO", "value": "b"},
		map[string]any{"name": "MIKE", "value": "m"},
		map[string]any{"name": "ZED", "value": "z"},
	}, c["env"])
	assert.Equal(t, []any{
		map[string]any{"name": "config", "mountPath": "/etc/lamina/a.yaml", "subPath": "a.yaml", "readOnly": true},
		map[string]any{"name": "config", "mountPath": "/etc/lamina/b.yaml", "subPath": "b.yaml", "readOnly": true},
		map[string]any{"name": "data", "mountPath": "/data"},
	}, c["volumeMounts"])
	assert.Equal(t, []any{
		map[string]any{"name": "config", "configMap": map[string]any{"name": "core-config"}},
		map[string]any{"name": "data", "persistentVolumeClaim": map[string]any{"claimName": "core-data"}},
	}, pod["volumes"])
	assert.Equal(t, map[string]any{"lamina.io/config-checksum": "abc123"}, recordertest.At(t, d.Inputs, "spec", "template", "metadata", "annotations"))
}

// The pods wait for what they need (a claim, the mesh's sidecar injection) and for
// their ServiceAccount; the Service and the ServiceAccount do not wait for those. A
// StatefulSet's governing Service is the workload's, and it has no Deployment strategy.
func TestControllerWaitsForItsDependenciesAndStatefulSetNamesItsService(t *testing.T) {
	g, err := declare(t, func(ctx *pulumi.Context, a *workload.WorkloadArgs) {
		var claim pulumi.CustomResourceState
		require.NoError(t, ctx.RegisterResource(claimType, "core-data", pulumi.Map{}, &claim))
		a.DependsOn = []pulumi.Resource{&claim}
		a.Kind = workload.StatefulSet
	})
	require.NoError(t, err)
	assert.Nil(t, g.Find(deploymentType, "core"))
	s := recordertest.Find(t, g, statefulSetType, "core")
	claim, sa, svc := recordertest.Find(t, g, claimType, "core-data"), recordertest.Find(t, g, serviceAccountType, "core-sa"), recordertest.Find(t, g, serviceType, "core-service")
	assert.Contains(t, s.Dependencies, claim.URN)
	assert.Contains(t, s.Dependencies, sa.URN)
	assert.NotContains(t, svc.Dependencies, claim.URN)
	assert.NotContains(t, sa.Dependencies, claim.URN)
	assert.Equal(t, "urn:pulumi:test::lamina::lamina:workload:Workload::core", s.Parent)

	assert.Equal(t, "lamina-core", recordertest.At(t, s.Inputs, "spec", "serviceName"))
	assert.Contains(t, s.Dependencies, svc.URN, "serviceName comes from the declared Service")
	assert.NotContains(t, s.Inputs["spec"], "strategy")

	_, err = declare(t, func(_ *pulumi.Context, a *workload.WorkloadArgs) { a.Kind = "DaemonSet" })
	assert.ErrorContains(t, err, `workload core: kind "DaemonSet" is neither Deployment nor StatefulSet`)
}

// Several replicas are spread across nodes as a rule and across zones as a preference,
// with cordoned nodes left out and a Deployment's old pods not counted; one replica is
// not spread. A StatefulSet's pods have no pod-template-hash to match.
func TestReplicasAreSpreadAcrossNodesAndZones(t *testing.T) {
	constraint := func(key, unsatisfiable string, deployment bool) map[string]any {
		c := map[string]any{
			"maxSkew": float64(1), "topologyKey": key, "whenUnsatisfiable": unsatisfiable, "nodeTaintsPolicy": "Honor",
			"labelSelector": map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "lamina-core"}},
		}
		if deployment {
			c["matchLabelKeys"] = []any{"pod-template-hash"}
		}
		return c
	}
	for _, tc := range []struct {
		name     string
		kind     string
		replicas int
	}{{"one replica", workload.Deployment, 1}, {"three replicas", workload.Deployment, 3}, {"a StatefulSet of two", workload.StatefulSet, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			g, err := declare(t, func(_ *pulumi.Context, a *workload.WorkloadArgs) { a.Kind, a.Replicas = tc.kind, tc.replicas })
			require.NoError(t, err)
			typ := deploymentType
			if tc.kind == workload.StatefulSet {
				typ = statefulSetType
			}
			spec := podSpec(t, recordertest.Find(t, g, typ, "core"))
			if tc.replicas == 1 {
				assert.NotContains(t, spec, "topologySpreadConstraints")
				return
			}
			deployment := tc.kind == workload.Deployment
			assert.Equal(t, []any{
				constraint("kubernetes.io/hostname", "DoNotSchedule", deployment),
				constraint("topology.kubernetes.io/zone", "ScheduleAnyway", deployment),
			}, spec["topologySpreadConstraints"])
		})
	}
}

// A placement reaches the pods as a node selector and tolerations; an Equal toleration
// of no operator is written Equal, and empty fields are left out. No placement: neither.
func TestPlacementChoosesTheNodesByLabelAndTaint(t *testing.T) {
	g, err := declare(t, nil)
	require.NoError(t, err)
	pod := podSpec(t, recordertest.Find(t, g, deploymentType, "core"))
	assert.NotContains(t, pod, "nodeSelector")
	assert.NotContains(t, pod, "tolerations")

	g, err = declare(t, func(_ *pulumi.Context, a *workload.WorkloadArgs) {
		a.Placement.NodeSelector = map[string]string{"lamina.io/gpu": "true"}
		a.Placement.Tolerations = []spec.Toleration{{Key: "lamina.io/gpu", Value: "true", Effect: "NoSchedule"}, {Operator: "Exists"}}
	})
	require.NoError(t, err)
	pod = podSpec(t, recordertest.Find(t, g, deploymentType, "core"))
	assert.Equal(t, map[string]any{"lamina.io/gpu": "true"}, pod["nodeSelector"])
	assert.Equal(t, []any{
		map[string]any{"key": "lamina.io/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"},
		map[string]any{"operator": "Exists"},
	}, pod["tolerations"])
}
