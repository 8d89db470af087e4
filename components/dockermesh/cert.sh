# Issue a service's certificate from the mesh's CA and print its private key, then its
# certificate (PEM): the common name is the service's identity, which the proxies it
# calls authorize; the DNS names are what its proxy answers to; it serves and it calls
# (serverAuth and clientAuth).
# Reads: LAMINA_CA (the CA's key, then its certificate), LAMINA_CERT_NAME,
# LAMINA_CERT_DNS (one name per line), LAMINA_TLS_DAYS.
lamina_need openssl "it ships with macOS (LibreSSL); or brew install openssl"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
umask 077
printf '%s\n' "$LAMINA_CA" | sed -n '/-----BEGIN [A-Z ]*PRIVATE KEY-----/,/-----END [A-Z ]*PRIVATE KEY-----/p' >"$dir/ca.key"
printf '%s\n' "$LAMINA_CA" | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' >"$dir/ca.pem"
[ -s "$dir/ca.key" ] && [ -s "$dir/ca.pem" ] || lamina_die "the mesh's CA holds no key and certificate"
sans=""
while IFS= read -r name; do
  [ -n "$name" ] || continue
  sans="${sans:+$sans, }DNS:$name"
done <<NAMES
$LAMINA_CERT_DNS
NAMES
cat >"$dir/ext.cnf" <<CNF
[leaf]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth, clientAuth
subjectAltName = $sans
CNF
openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=$LAMINA_CERT_NAME" \
  -keyout "$dir/key.pem" -out "$dir/csr.pem" 2>"$dir/err" ||
  lamina_die "openssl could not make $LAMINA_CERT_NAME's key: $(cat "$dir/err")"
openssl x509 -req -sha256 -in "$dir/csr.pem" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" \
  -set_serial "0x$(openssl rand -hex 16)" -days "$LAMINA_TLS_DAYS" \
  -extfile "$dir/ext.cnf" -extensions leaf -out "$dir/cert.pem" 2>"$dir/err" ||
  lamina_die "openssl could not sign $LAMINA_CERT_NAME's certificate: $(cat "$dir/err")"
cat "$dir/key.pem" "$dir/cert.pem"
