#!/usr/bin/env bash
# Make a throwaway cluster CA, a server certificate and an admin client
# certificate for kubesim (EC P-256, like a kubeadm cluster).
#
#   mkcerts.sh DIR [CLIENT_CN] [CLIENT_O]
#
# Writes DIR/ca.crt ca.key server.crt server.key client.crt client.key.
# Existing files are kept (delete DIR to regenerate).
set -euo pipefail
dir=${1:?usage: mkcerts.sh DIR [CLIENT_CN] [CLIENT_O]}
cn=${2:-kubesim-admin}
org=${3:-system:masters}
mkdir -p "$dir"
cd "$dir"
if [[ -s ca.crt && -s server.crt && -s client.crt ]]; then
  exit 0
fi
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=kubesim-ca" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
  -out ca.crt 2>/dev/null

openssl ecparam -name prime256v1 -genkey -noout -out server.key 2>/dev/null
openssl req -new -key server.key -subj "/CN=kube-apiserver" -out "$tmp/server.csr" 2>/dev/null
cat > "$tmp/server.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc
EXT
openssl x509 -req -in "$tmp/server.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
  -days 3650 -sha256 -extfile "$tmp/server.ext" -out server.crt 2>/dev/null

openssl ecparam -name prime256v1 -genkey -noout -out client.key 2>/dev/null
openssl req -new -key client.key -subj "/O=${org}/CN=${cn}" -out "$tmp/client.csr" 2>/dev/null
cat > "$tmp/client.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth
EXT
openssl x509 -req -in "$tmp/client.csr" -CA ca.crt -CAkey ca.key -CAcreateserial \
  -days 3650 -sha256 -extfile "$tmp/client.ext" -out client.crt 2>/dev/null
rm -f ca.srl
chmod 600 ./*.key
chmod 644 ./*.crt
