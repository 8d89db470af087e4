package lamina

import rego.v1

# METADATA
# title: ALLOW rules name their sources
# description: >-
#   Every rule of an ALLOW AuthorizationPolicy has a from clause whose sources name who
#   is allowed (principals, namespaces, service accounts, request principals or IP
#   blocks), never only "*" or only negations. A rule without sources allows everyone.
#   No exemption for istio-system: it is the mesh root namespace, where an allow-all
#   rule would open every namespace at once.
deny_authorization_policy_unnamed_source contains msg if {
	is_kind("security.istio.io", "AuthorizationPolicy")
	object.get(input, ["spec", "action"], "ALLOW") == "ALLOW"
	some i, rule in object.get(input, ["spec", "rules"], [])
	some problem in allow_rule_problems(rule)
	msg := sprintf("%s ALLOW rule %d %s", [object_name, i, problem])
}

allow_rule_problems(rule) := {"has no from clause: it allows everyone; name the sources it admits"} if {
	count(object.get(rule, "from", [])) == 0
} else := {problem |
	some j, from in rule.from
	not names_source(object.get(from, "source", {}))
	problem := sprintf("source %d names nobody (only \"*\" or only negations): it allows everyone; name principals, namespaces or service accounts", [j])
}

# source_fields are the positive fields of an Istio Source.
source_fields := ["principals", "requestPrincipals", "namespaces", "serviceAccounts", "ipBlocks", "remoteIpBlocks"]

names_source(source) if {
	some field in source_fields
	values := object.get(source, field, [])
	count(values) > 0
	every value in values {
		value != "*"
	}
}
