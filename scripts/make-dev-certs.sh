#!/usr/bin/env bash
# Makes a CA and one node certificate (for 127.0.0.1 and localhost, server and client
# use) for region links on one machine. Usage: scripts/make-dev-certs.sh DIR
set -euo pipefail
dir=${1:?usage: $0 DIR}
mkdir -p "$dir" && cd "$dir"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n' > san.cnf
openssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj "/CN=ably-ng dev CA" -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=ably-ng node" -keyout node.key -out node.csr 2>/dev/null
openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -extfile san.cnf -out node.pem 2>/dev/null
rm -f node.csr san.cnf ca.srl
echo "certificates in $dir: ca.pem node.pem node.key (ca.key signs more)"
