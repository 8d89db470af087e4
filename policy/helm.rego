package lamina

import rego.v1

# METADATA
# title: No credentials inline in Helm values
# description: >-
#   Helm release values set no password, token or key inline; credentials come from
#   Kubernetes Secrets that the program creates from Pulumi secrets and that the chart
#   references (its existingSecret-style options). Inline values would also sit in
#   plaintext in Helm's release record in the cluster. The rule reads key names, since a
#   policy cannot tell a secret value from a plain one.
deny_helm_inline_credentials contains msg if {
	is_helm_release
	walk(input.values, [path, value])
	count(path) > 0
	key := path[count(path) - 1]
	is_string(key)
	credential_key(key)
	credential_value(value)
	msg := sprintf("Helm release %s/%s sets values.%s inline; create a Kubernetes Secret from a Pulumi secret and point the chart at it (its existingSecret-style option)", [release_namespace, release_name, concat(".", [sprintf("%v", [p]) | some p in path])])
}

# credential_suffixes end the (lower-cased, unseparated) names of keys that hold a
# credential. References to credentials (existingSecret, envFromSecret, passwordKey,
# secretName) do not end in one, which is why a bare "secret" is not on the list.
credential_suffixes := [
	"password", "passwd", "passphrase", "token", "apikey", "secretkey", "accesskey",
	"privatekey", "signingkey", "credentials", "clientsecret", "jwtsecret", "cookiesecret",
	"sessionsecret", "sharedsecret",
]

credential_key(key) if {
	normal := lower(replace(replace(key, "_", ""), "-", ""))
	not startswith(normal, "existing")
	some suffix in credential_suffixes
	endswith(normal, suffix)
}

# credential_value holds for anything that could be a credential: text, a number, or a
# value hidden at preview. Booleans (automountServiceAccountToken: false) and nested
# objects (walked on their own) are not.
credential_value(value) if {
	is_string(value)
	value != ""
	not secret_reference(value)
}

# secret_reference holds for a chart's reference to a Kubernetes Secret in place of a
# value (Kiali's secret:<name>:<key>).
secret_reference(value) if regex.match(`^secret:[a-z0-9][-a-z0-9.]*:[-._a-zA-Z0-9]+$`, value)

credential_value(value) if is_number(value)

credential_value(value) if placeholder(value)
