package lamina

import rego.v1

# METADATA
# title: Namespaces join the mesh
# description: >-
#   Every Namespace carries istio-injection=enabled or an istio.io/rev label. Opting out
#   takes istio-injection=disabled, the lamina.io/out-of-mesh-reason annotation and a
#   namespace on the pack's out_of_mesh_namespaces.
deny_namespace_outside_mesh contains msg if {
	is_kind("", "Namespace")
	not namespace_in_mesh
	some msg in namespace_opt_out_problems
}

namespace_opt_out_problems contains msg if {
	not input.metadata.name in out_of_mesh_namespaces
	msg := sprintf("%s is outside the mesh: label it istio-injection=enabled (or istio.io/rev=<revision>); only %v may opt out", [object_name, sort(out_of_mesh_namespaces)])
}

namespace_opt_out_problems contains msg if {
	input.metadata.name in out_of_mesh_namespaces
	object.get(input, ["metadata", "labels", "istio-injection"], "") != "disabled"
	msg := sprintf("%s opts out of the mesh without saying so: label it istio-injection=disabled", [object_name])
}

namespace_opt_out_problems contains msg if {
	input.metadata.name in out_of_mesh_namespaces
	object.get(input, ["metadata", "annotations", out_of_mesh_reason_annotation], "") == ""
	msg := sprintf("%s opts out of the mesh without a reason: annotate it %s=<why>", [object_name, out_of_mesh_reason_annotation])
}

# METADATA
# title: Pods keep their sidecar
# description: >-
#   Pods and pod templates (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob)
#   do not switch sidecar injection off with sidecar.istio.io/inject outside the pack's
#   out_of_mesh_namespaces. Istio injects only for y, yes, true or on; any other value
#   turns injection off.
deny_sidecar_injection_disabled contains msg if {
	some where in ["annotations", "labels"]
	value := pod_template.metadata[where]["sidecar.istio.io/inject"]
	not lower(sprintf("%v", [value])) in {"y", "yes", "true", "on"}
	not placeholder(namespace)
	not namespace in out_of_mesh_namespaces
	msg := sprintf("%s turns its sidecar off with %s sidecar.istio.io/inject=%v in namespace %s; remove it (only %v may run without sidecars)", [object_name, trim_suffix(where, "s"), value, namespace, sort(out_of_mesh_namespaces)])
}
