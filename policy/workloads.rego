package lamina

import rego.v1

# METADATA
# title: Containers have resource limits
# description: Every container sets CPU and memory limits, so one agent cannot starve the VM.
warn_container_without_limits contains msg if {
	some c in pod_containers
	some resource in ["cpu", "memory"]
	not c.resources.limits[resource]
	msg := sprintf("%s container %s sets no %s limit", [object_name, c.name, resource])
}

# METADATA
# title: Containers run as non-root
# description: >-
#   Every container runs as non-root: runAsNonRoot true or a non-zero runAsUser, on the
#   container or inherited from the pod.
warn_container_runs_as_root contains msg if {
	some c in pod_containers
	not runs_as_non_root(c)
	msg := sprintf("%s container %s may run as root; set securityContext.runAsNonRoot: true and a non-zero runAsUser", [object_name, c.name])
}

security_setting(c, field) := value if {
	value := c.securityContext[field]
} else := value if {
	value := pod_template.spec.securityContext[field]
}

runs_as_non_root(c) if security_setting(c, "runAsNonRoot") == true

runs_as_non_root(c) if security_setting(c, "runAsUser") > 0

# METADATA
# title: Images are pinned
# description: >-
#   No container image is :latest or untagged (which means latest); use a version tag or,
#   better, a digest, so that `pulumi up` rolls out exactly what was reviewed.
warn_image_latest contains msg if {
	some c in pod_containers
	is_string(c.image)
	not placeholder(c.image)
	image_tag(c.image) == "latest"
	msg := sprintf("%s container %s uses image %s, which floats; pin a version tag or a digest", [object_name, c.name, c.image])
}

image_tag(image) := "digest" if contains(image, "@")

image_tag(image) := tag if {
	not contains(image, "@")
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	tag := tag_of(last)
}

tag_of(name) := split(name, ":")[1] if contains(name, ":")

tag_of(name) := "latest" if not contains(name, ":")

# METADATA
# title: Replicas are spread across nodes
# description: >-
#   A Deployment or StatefulSet of more than one replica spreads its pods across nodes: a
#   topology spread constraint on kubernetes.io/hostname that is a rule (DoNotSchedule),
#   or a required pod anti-affinity on it, so that one node's loss or drain takes at
#   most one of them.
warn_replicas_not_spread contains msg if {
	input.kind in {"Deployment", "StatefulSet"}
	object.get(input, ["spec", "replicas"], 1) > 1
	not spread_across_nodes
	msg := sprintf("%s runs %d replicas that may all land on one node; add a topologySpreadConstraint on kubernetes.io/hostname with whenUnsatisfiable DoNotSchedule", [object_name, input.spec.replicas])
}

spread_across_nodes if {
	some c in object.get(pod_template, ["spec", "topologySpreadConstraints"], [])
	c.topologyKey == "kubernetes.io/hostname"
	c.whenUnsatisfiable == "DoNotSchedule"
}

spread_across_nodes if {
	some term in object.get(pod_template, ["spec", "affinity", "podAntiAffinity", "requiredDuringSchedulingIgnoredDuringExecution"], [])
	term.topologyKey == "kubernetes.io/hostname"
}
