package lamina

import rego.v1

# METADATA
# title: PeerAuthentication is STRICT
# description: >-
#   Every PeerAuthentication sets mutual TLS mode STRICT, for the workload and for every
#   port. PERMISSIVE accepts plaintext, DISABLE turns mTLS off, and UNSET (no mode)
#   inherits, which lets a parent policy's weakening through.
deny_peer_authentication_not_strict contains msg if {
	is_kind("security.istio.io", "PeerAuthentication")
	some where, mode in peer_authentication_modes
	mode != "STRICT"
	msg := sprintf("%s sets mTLS mode %s%s; only STRICT is allowed: set spec.mtls.mode (and every spec.portLevelMtls mode) to STRICT", [object_name, mode, where])
}

peer_authentication_modes[""] := object.get(input, ["spec", "mtls", "mode"], "UNSET")

peer_authentication_modes[sprintf(" on port %v", [port])] := object.get(setting, "mode", "UNSET") if {
	some port, setting in object.get(input, ["spec", "portLevelMtls"], {})
}

# METADATA
# title: DestinationRule keeps Istio mutual TLS
# description: >-
#   A DestinationRule's TLS settings, at the top, per port and per subset, use
#   ISTIO_MUTUAL or leave TLS out to inherit the mesh's. DISABLE or SIMPLE only for hosts
#   on the pack's tls_exempt_hosts (the Kubernetes API server).
deny_destination_rule_tls contains msg if {
	is_kind("networking.istio.io", "DestinationRule")
	some where, tls in destination_rule_tls
	mode := object.get(tls, "mode", "DISABLE")
	mode != "ISTIO_MUTUAL"
	not tls_exemption(mode)
	msg := sprintf("%s sets %s mode %s for host %v; only ISTIO_MUTUAL (or no tls, inheriting the mesh's) is allowed, DISABLE or SIMPLE only for %v", [object_name, where, mode, input.spec.host, sort(tls_exempt_hosts)])
}

tls_exemption(mode) if {
	input.spec.host in tls_exempt_hosts
	mode in {"DISABLE", "SIMPLE"}
}

traffic_policies["spec.trafficPolicy"] := input.spec.trafficPolicy

traffic_policies[sprintf("spec.subsets[%d].trafficPolicy", [i])] := subset.trafficPolicy if {
	some i, subset in input.spec.subsets
}

destination_rule_tls[sprintf("%s.tls", [where])] := policy.tls if {
	some where, policy in traffic_policies
}

destination_rule_tls[sprintf("%s.portLevelSettings[%d].tls", [where, i])] := setting.tls if {
	some where, policy in traffic_policies
	some i, setting in policy.portLevelSettings
}
