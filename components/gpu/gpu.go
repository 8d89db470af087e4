// Package gpu gives pods the Mac's GPU in a krunkit VM. krunkit's virtio-gpu shows the
// guest a DRM render node (/dev/dri/renderD128) that Mesa's Venus driver turns into a
// Vulkan device. A device plugin (squat's generic-device-plugin) advertises that node to
// the kubelet as the extended resource lamina.io/gpu; a pod that requests it gets the
// node from the kubelet, with no hostPath and no privilege, so llm-serve stays at Pod
// Security's restricted level. The plugin itself needs the kubelet's socket directory
// and the VM's /dev, so it runs privileged in kube-system, beside k3s's own agents.
package gpu

import (
	"encoding/json"
	"fmt"
	"strconv"

	appsv1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/apps/v1"
	corev1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/core/v1"
	metav1 "github.com/pulumi/pulumi-kubernetes/sdk/v4/go/kubernetes/meta/v1"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/lamina-os/lamina-infra/components/network"
	"github.com/lamina-os/lamina-infra/internal/kube"
)

// The resource pods request, and where the plugin runs.
const (
	// Domain and Device make Resource, the name pods request.
	Domain   = "lamina.io"
	Device   = "gpu"
	Resource = Domain + "/" + Device
	// RenderNodes are the DRM render nodes the Venus driver opens.
	RenderNodes = "/dev/dri/renderD*"
	// Name names the DaemonSet and its pods (their network.AppLabel).
	Name = "lamina-gpu-device-plugin"
	// Namespace is kube-system: outside the mesh (the kubelet talks to the plugin over
	// a socket, nothing over the network) and not held to the restricted level.
	Namespace = "kube-system"
	// KubeletPlugins is where the kubelet (k3s's too) looks for device plugins' sockets.
	KubeletPlugins = "/var/lib/kubelet/device-plugins"
	healthPort     = 8080
)

// DevicePluginArgs configure the plugin.
type DevicePluginArgs struct {
	// Image is the plugin's image (ghcr.io/squat/generic-device-plugin, pinned).
	Image string
	// Shares is how many pods may hold the device at once. Every holder opens the same
	// render node; what they load is bounded by the capacity check, not by the plugin.
	Shares int
}

// DevicePlugin is the plugin's DaemonSet.
type DevicePlugin struct {
	pulumi.ResourceState

	DaemonSet *appsv1.DaemonSet
}

// deviceSpec is the plugin's --device value: the render nodes, shared by shares pods.
func deviceSpec(shares int) (string, error) {
	type path struct {
		Path string `json:"path"`
	}
	type group struct {
		Count int    `json:"count"`
		Paths []path `json:"paths"`
	}
	b, err := json.Marshal(struct {
		Name   string  `json:"name"`
		Groups []group `json:"groups"`
	}{Device, []group{{Count: shares, Paths: []path{{RenderNodes}}}}})
	return string(b), err
}

// Args are the plugin's command-line arguments.
func Args(shares int) ([]string, error) {
	if shares < 1 {
		return nil, fmt.Errorf("gpu: %d shares; at least one pod must be able to hold the device", shares)
	}
	spec, err := deviceSpec(shares)
	if err != nil {
		return nil, err
	}
	return []string{"--domain=" + Domain, "--device=" + spec, "--listen=:" + strconv.Itoa(healthPort)}, nil
}

// NewDevicePlugin declares the plugin's DaemonSet in kube-system.
func NewDevicePlugin(ctx *pulumi.Context, name string, args DevicePluginArgs, opts ...pulumi.ResourceOption) (*DevicePlugin, error) {
	d := &DevicePlugin{}
	if err := ctx.RegisterComponentResource("lamina:gpu:DevicePlugin", name, d, opts...); err != nil {
		return nil, err
	}
	cmdArgs, err := Args(args.Shares)
	if err != nil {
		return nil, err
	}
	selector := map[string]string{network.AppLabel: Name}
	hostPath := func(name, path, kind string) *corev1.VolumeArgs {
		return &corev1.VolumeArgs{Name: pulumi.String(name), HostPath: &corev1.HostPathVolumeSourceArgs{Path: pulumi.String(path), Type: pulumi.String(kind)}}
	}
	if d.DaemonSet, err = appsv1.NewDaemonSet(ctx, name, &appsv1.DaemonSetArgs{
		Metadata: kube.Meta(Name, pulumi.String(Namespace), selector),
		Spec: &appsv1.DaemonSetSpecArgs{
			Selector: &metav1.LabelSelectorArgs{MatchLabels: pulumi.ToStringMap(selector)},
			Template: &corev1.PodTemplateSpecArgs{
				Metadata: &metav1.ObjectMetaArgs{Labels: kube.Labels(selector)},
				Spec: &corev1.PodSpecArgs{
					// As the kubelet's other node agents: it must run for GPU pods to start.
					PriorityClassName:            pulumi.String("system-node-critical"),
					AutomountServiceAccountToken: pulumi.Bool(false),
					Tolerations: corev1.TolerationArray{
						&corev1.TolerationArgs{Operator: pulumi.String("Exists"), Effect: pulumi.String("NoSchedule")},
						&corev1.TolerationArgs{Operator: pulumi.String("Exists"), Effect: pulumi.String("NoExecute")},
					},
					Containers: corev1.ContainerArray{&corev1.ContainerArgs{
						Name:  pulumi.String("device-plugin"),
						Image: pulumi.String(args.Image),
						Args:  pulumi.ToStringArray(cmdArgs),
						Ports: corev1.ContainerPortArray{&corev1.ContainerPortArgs{
							Name: pulumi.String("http"), ContainerPort: pulumi.Int(healthPort), Protocol: pulumi.String("TCP"),
						}},
						LivenessProbe: &corev1.ProbeArgs{
							HttpGet:       &corev1.HTTPGetActionArgs{Path: pulumi.String("/health"), Port: pulumi.String("http")},
							PeriodSeconds: pulumi.Int(10), FailureThreshold: pulumi.Int(3),
						},
						Resources: &corev1.ResourceRequirementsArgs{
							Requests: pulumi.StringMap{"cpu": pulumi.String("10m"), "memory": pulumi.String("16Mi")},
							Limits:   pulumi.StringMap{"cpu": pulumi.String("100m"), "memory": pulumi.String("64Mi")},
						},
						// The kubelet's socket directory is root's, and the VM's device
						// nodes are seen only by a privileged container (the plugin's
						// own manifest runs it so). Nothing else runs in it.
						SecurityContext: &corev1.SecurityContextArgs{
							Privileged:             pulumi.Bool(true),
							ReadOnlyRootFilesystem: pulumi.Bool(true),
						},
						VolumeMounts: corev1.VolumeMountArray{
							&corev1.VolumeMountArgs{Name: pulumi.String("device-plugins"), MountPath: pulumi.String(KubeletPlugins)},
							&corev1.VolumeMountArgs{Name: pulumi.String("dev"), MountPath: pulumi.String("/dev"), ReadOnly: pulumi.Bool(true)},
						},
					}},
					Volumes: corev1.VolumeArray{
						hostPath("device-plugins", KubeletPlugins, "Directory"),
						hostPath("dev", "/dev", "Directory"),
					},
				},
			},
		},
	}, pulumi.Parent(d)); err != nil {
		return nil, err
	}
	return d, ctx.RegisterResourceOutputs(d, pulumi.Map{"resource": pulumi.String(Resource)})
}
