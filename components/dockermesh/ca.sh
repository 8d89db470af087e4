# Generate the local certificate authority of the Docker target's mesh and print its
# private key, then its certificate (PEM). Nothing is written outside a private
# temporary directory, which goes when the script ends.
# Reads: LAMINA_CA_NAME (the CA's common name), LAMINA_TLS_DAYS (its validity).
lamina_need openssl "it ships with macOS (LibreSSL); or brew install openssl"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cat >"$dir/ca.cnf" <<CNF
[req]
distinguished_name = dn
prompt = no
x509_extensions = ca
[dn]
CN = $LAMINA_CA_NAME
[ca]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
CNF
openssl req -x509 -new -newkey rsa:3072 -nodes -sha256 -days "$LAMINA_TLS_DAYS" \
  -config "$dir/ca.cnf" -keyout "$dir/ca.key" -out "$dir/ca.pem" 2>"$dir/err" ||
  lamina_die "openssl could not make the mesh's CA: $(cat "$dir/err")"
cat "$dir/ca.key" "$dir/ca.pem"
