package lamina

import rego.v1

# The Docker target's rules. Its services sit behind nginx proxies that speak mutual TLS
# (components/dockermesh); each container says what it is with the label lamina.io/role:
# app (a service), proxy (a service's proxy), edge (the one published port) or files (a
# carrier of a unit's files into its volume, created and never started).

docker_role_label := "lamina.io/role"

docker_service_label := "lamina.io/service"

is_docker_container if input.__type == "docker:index/container:Container"

docker_label(name) := value if {
	some l in object.get(input, "labels", [])
	l.label == name
	value := l.value
}

default docker_role := ""

docker_role := docker_label(docker_role_label)

docker_name := object.get(input, "name", object.get(input, "__name", "?"))

# METADATA
# title: Only the edge publishes a port, on a given address
# description: >-
#   No container of the Docker target publishes a port but the edge proxy, and the edge
#   names the address it publishes on (127.0.0.1 unless configured otherwise), never
#   every address of the host.
deny_docker_published_port contains msg if {
	some msg in docker_published_ports
}

docker_published_ports contains msg if {
	is_docker_container
	some p in object.get(input, "ports", [])
	not docker_role == "edge"
	msg := sprintf("container %s publishes port %v; only the edge proxy (label %s=edge) publishes a port, and every service is reached through it", [docker_name, p.internal, docker_role_label])
}

docker_published_ports contains msg if {
	is_docker_container
	docker_role == "edge"
	some p in object.get(input, "ports", [])
	object.get(p, "ip", "") in {"", "0.0.0.0", "::"}
	msg := sprintf("edge container %s publishes port %v on every address of the host; give the address (lamina:docker.edgeAddress, 127.0.0.1 by default)", [docker_name, p.internal])
}

# METADATA
# title: Every service is reached only through its proxy
# description: >-
#   Every container of the Docker target says what it is (lamina.io/role app, proxy,
#   edge or files), and a service's container (app) is on one network, its private
#   network lamina-<service>, with no host or default networking, so that nothing but its
#   proxy reaches it; a files carrier is never started and on no network. `lamina check`
#   also checks that the proxy is the network's only other member.
deny_docker_service_unproxied contains msg if {
	some msg in docker_unproxied
}

docker_unproxied contains msg if {
	is_docker_container
	not docker_role in {"app", "proxy", "edge", "files"}
	msg := sprintf("container %s has no %s label of app, proxy, edge or files; every container of the Docker target is a service behind its proxy, a proxy, the edge, or a carrier of files", [docker_name, docker_role_label])
}

docker_unproxied contains msg if {
	is_docker_container
	docker_role == "files"
	not docker_carrier_idle
	msg := sprintf("files carrier %s must be created and never started (start false, mustRun false) on no network (networkMode none): it only carries files into its volume", [docker_name])
}

docker_carrier_idle if {
	object.get(input, "start", true) == false
	object.get(input, "mustRun", true) == false
	object.get(input, "networkMode", "") == "none"
	count(object.get(input, "networksAdvanced", [])) == 0
	count(object.get(input, "ports", [])) == 0
}

docker_unproxied contains msg if {
	is_docker_container
	docker_role == "app"
	mode := object.get(input, "networkMode", "")
	mode in {"host", "bridge", "default"}
	msg := sprintf("service container %s uses network mode %s, which other containers or the host reach directly; put it on its private network alone", [docker_name, mode])
}

docker_unproxied contains msg if {
	is_docker_container
	docker_role == "app"
	networks := [n.name | some n in object.get(input, "networksAdvanced", [])]
	# A network's name unknown at preview is judged at up, when it is known.
	not any_placeholder(networks)
	service := docker_label(docker_service_label)
	want := docker_private_network(service)
	networks != [want]
	msg := sprintf("service container %s is on networks %v; it must be on its private network %s alone, which only its proxy shares", [docker_name, networks, want])
}

docker_private_network(service) := service if startswith(service, "lamina-")

docker_private_network(service) := concat("", ["lamina-", service]) if not startswith(service, "lamina-")

# METADATA
# title: No credential in a container's environment
# description: >-
#   No container's environment sets a password, token or key: `docker inspect` shows an
#   environment to anyone who may use the daemon. Credentials reach a container as a
#   file (an upload from a Pulumi secret), named by a variable ending in _FILE, or are
#   added by the caller's proxy. The rule reads names, since it cannot tell a secret value
#   from a plain one.
deny_docker_env_credentials contains msg if {
	is_docker_container
	some entry in object.get(input, "envs", [])
	is_string(entry)
	parts := split(entry, "=")
	name := parts[0]
	not endswith(lower(name), "_file")
	credential_key(name)
	msg := sprintf("container %s sets %s in its environment; put the credential in a file (an upload from a Pulumi secret) and give the file's path in %s_FILE", [docker_name, name, name])
}

# METADATA
# title: No container is privileged, adds a capability or takes a device it should not
# description: >-
#   The Docker target's counterpart of Pod Security's restricted level: no container runs
#   privileged or adds a capability (each drops ALL), and the only host device a
#   container gets is the GPU's /dev/dri, by llm-serve's own container
#   (lamina:llm.accelerator gpu on a krunkit VM), read and write.
deny_docker_privileged contains msg if {
	some msg in docker_privileges
}

docker_privileges contains msg if {
	is_docker_container
	object.get(input, "privileged", false) == true
	msg := sprintf("container %s runs privileged; no container of the Docker target needs it (a device is passed on its own)", [docker_name])
}

docker_privileges contains msg if {
	is_docker_container
	adds := object.get(object.get(input, "capabilities", {}), "adds", [])
	count(adds) > 0
	msg := sprintf("container %s adds capabilities %v; every container drops ALL and adds none", [docker_name, adds])
}

docker_privileges contains msg if {
	is_docker_container
	some d in object.get(input, "devices", [])
	not docker_gpu_device(d)
	msg := sprintf("container %s gets the host's device %v; only lamina-llm-serve's container gets one, the GPU's /dev/dri, read and write (lamina:llm.accelerator gpu)", [docker_name, object.get(d, "hostPath", "?")])
}

docker_gpu_device(d) if {
	docker_role == "app"
	docker_label(docker_service_label) == "lamina-llm-serve"
	d.hostPath == "/dev/dri"
	object.get(d, "containerPath", "/dev/dri") == "/dev/dri"
	object.get(d, "permissions", "rwm") == "rw"
}

any_placeholder(values) if {
	some v in values
	placeholder(v)
}
