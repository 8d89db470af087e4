package lamina

import rego.v1

# METADATA
# title: The gateway serves TLS
# description: >-
#   An Istio Gateway's HTTPS servers terminate TLS in SIMPLE or MUTUAL mode with a
#   credentialName (a Secret in the gateway's namespace); its plain HTTP servers only
#   redirect to HTTPS.
deny_gateway_tls contains msg if {
	is_kind("networking.istio.io", "Gateway")
	some i, server in object.get(input, ["spec", "servers"], [])
	some problem in gateway_server_problems(server)
	msg := sprintf("%s server %d (port %v): %s", [object_name, i, object.get(server, ["port", "number"], "?"), problem])
}

gateway_server_problems(server) := {problem |
	upper(object.get(server, ["port", "protocol"], "")) == "HTTPS"
	mode := object.get(server, ["tls", "mode"], "unset")
	not mode in {"SIMPLE", "MUTUAL"}
	problem := sprintf("HTTPS with tls mode %s; use SIMPLE or MUTUAL", [mode])
} | {problem |
	upper(object.get(server, ["port", "protocol"], "")) == "HTTPS"
	object.get(server, ["tls", "credentialName"], "") == ""
	count(object.get(server, ["tls", "credentialNames"], [])) == 0
	problem := "HTTPS without tls.credentialName; name the certificate's Secret in the gateway's namespace"
} | {problem |
	upper(object.get(server, ["port", "protocol"], "")) in {"HTTP", "HTTP2", "GRPC"}
	object.get(server, ["tls", "httpsRedirect"], false) != true
	problem := "plain HTTP that does not redirect; set tls.httpsRedirect: true"
}

# METADATA
# title: Only the gateway is exposed
# description: >-
#   Services of type LoadBalancer or NodePort, declared directly or through a Helm
#   release's service.type, live only in the pack's gateway_namespaces; everything else is
#   reached through the gateway.
deny_service_exposed contains msg if {
	some msg in exposed_services
}

exposed_services contains msg if {
	is_kind("", "Service")
	type := object.get(input, ["spec", "type"], "ClusterIP")
	type in {"LoadBalancer", "NodePort"}
	not placeholder(namespace)
	not namespace in gateway_namespaces
	msg := sprintf("%s is of type %s outside the gateway namespaces %v; make it ClusterIP and route to it through the gateway", [object_name, type, sort(gateway_namespaces)])
}

exposed_services contains msg if {
	is_helm_release
	type := input.values.service.type
	type in {"LoadBalancer", "NodePort"}
	not placeholder(release_namespace)
	not release_namespace in gateway_namespaces
	msg := sprintf("Helm release %s/%s sets service.type %s outside the gateway namespaces %v; make it ClusterIP and route to it through the gateway", [release_namespace, release_name, type, sort(gateway_namespaces)])
}
