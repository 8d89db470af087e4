# Package lamina is the Lamina platform's policy pack for Pulumi's OPA analyzer.
#
# The analyzer evaluates every rule named deny_* (mandatory) or warn_* (advisory) once per
# resource, with that resource's input properties as `input`: for a Kubernetes object its
# apiVersion, kind, metadata and spec; for a Helm release its chart, namespace and values.
# Newer analyzers add __type, __urn and __name. Everything else in this package is data
# and helpers.
#
# The allow-lists below are the pack's data. They are the only places where the mesh may
# be opted out of or mutual TLS turned off; widening one is a reviewed change to the pack.
package lamina

import rego.v1

# mesh_root_namespace is Istio's root namespace: policies there apply to the whole mesh.
mesh_root_namespace := "istio-system"

# out_of_mesh_namespaces may run without sidecars: the control plane, components whose
# webhooks the API server (which has no mesh identity) calls, and Kubernetes' own.
out_of_mesh_namespaces := {
	"istio-system",
	"cert-manager",
	"metallb-system",
	"kube-system",
	"kube-public",
	"kube-node-lease",
}

# out_of_mesh_reason_annotation must say, on an opted-out namespace, why it is outside.
out_of_mesh_reason_annotation := "lamina.io/out-of-mesh-reason"

# gateway_namespaces hold the ingress gateway: the only place a Service may be reachable
# from outside the cluster.
gateway_namespaces := {"istio-gateway"}

# tls_exempt_hosts may be reached without Istio mutual TLS (DISABLE or SIMPLE): the
# Kubernetes API server, which serves its own TLS and has no mesh identity.
tls_exempt_hosts := {
	"kubernetes.default.svc.cluster.local",
	"kubernetes.default.svc",
	"kubernetes.default",
}

# is_kind holds when input is a Kubernetes object of kind in API group ("" is core).
is_kind(group, kind) if {
	input.kind == kind
	api_group(input.apiVersion) == group
}

api_group(api_version) := "" if not contains(api_version, "/")

api_group(api_version) := split(api_version, "/")[0] if contains(api_version, "/")

# namespace is the namespace a namespaced object lands in.
namespace := object.get(input, ["metadata", "namespace"], "default")

# object_name names the object in messages: Kind namespace/name.
object_name := sprintf("%s %s/%s", [input.kind, namespace, object.get(input, ["metadata", "name"], object.get(input, "__name", "?"))]) if {
	input.kind != "Namespace"
} else := sprintf("Namespace %s", [object.get(input, ["metadata", "name"], "")])

# is_helm_release holds for a Helm release, by type where the analyzer gives it and by
# shape (a chart and values) where it does not.
is_helm_release if input.__type == "kubernetes:helm.sh/v3:Release"

is_helm_release if {
	not input.__type
	is_string(input.chart)
	is_object(input.values)
}

release_name := object.get(input, "name", object.get(input, "chart", "?"))

release_namespace := object.get(input, "namespace", "default")

# placeholder holds for a value nobody can read at preview: the analyzer hands a Pulumi
# secret or unknown over as an object holding its Element (an unknown string arrives as
# {"Element": {"V": ""}}); `lamina check` masks them as "[secret]" and "[unknown]". A
# rule that needs the value (a namespace, say) does not judge a placeholder: at `pulumi
# up` the analyzer sees the resource again with the value known.
placeholder(v) if {
	is_object(v)
	"Element" in object.keys(v)
}

placeholder(v) if v in {"[secret]", "[unknown]"}

# namespace_in_mesh holds for a Namespace whose pods get sidecars injected.
namespace_in_mesh if {
	input.kind == "Namespace"
	labels := object.get(input, ["metadata", "labels"], {})
	labels["istio-injection"] == "enabled"
}

namespace_in_mesh if {
	input.kind == "Namespace"
	labels := object.get(input, ["metadata", "labels"], {})
	labels["istio.io/rev"] != ""
	not labels["istio-injection"]
}

# workload_template_paths say where each workload kind keeps its pod template.
workload_template_paths := {
	"apps/Deployment": ["spec", "template"],
	"apps/StatefulSet": ["spec", "template"],
	"apps/DaemonSet": ["spec", "template"],
	"apps/ReplicaSet": ["spec", "template"],
	"batch/Job": ["spec", "template"],
	"batch/CronJob": ["spec", "jobTemplate", "spec", "template"],
}

# pod_template is the pod (or pod template) a workload object declares.
pod_template := input if is_kind("", "Pod")

pod_template := template if {
	path := workload_template_paths[sprintf("%s/%s", [api_group(input.apiVersion), input.kind])]
	template := object.get(input, path, {})
}

# pod_containers are the template's containers and init containers.
pod_containers contains c if {
	some field in ["containers", "initContainers"]
	some c in object.get(pod_template, ["spec", field], [])
}
