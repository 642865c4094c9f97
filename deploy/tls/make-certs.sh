#!/bin/sh
# A private CA and the TLS certificates docker-compose.yml uses (docs/operations.md,
# "TLS"). For one host or a trial; with a company CA, put its files at the same names.
#
#   deploy/tls/make-certs.sh [public host name]     (default: localhost)
#
# Writes deploy/tls/certs/ (keys 0600; the folder is not for git): ca.crt, ca.key and
# <name>.crt/.key for gateway (the public name), internal (the services' and the
# console's HTTPS: intake, routing, sla, notify, console), smtp (the public name: STARTTLS
# on :2525), nats (nats, nats-2, nats-3), postgres. An existing CA is reused, so
# re-running renews the server certificates without touching what trusts the CA.
set -eu
public="${1:-localhost}"
dir="$(dirname "$0")/certs"
mkdir -p "$dir"
chmod 700 "$dir"
cd "$dir"
umask 077

if [ ! -f ca.key ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -days 3650 -subj "/CN=Hotro private CA" -keyout ca.key -out ca.crt \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"
fi

issue() {  # name, subject alternative names
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -subj "/CN=$1" -keyout "$1.key" -out "$1.csr"
  printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$2" \
    > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 397 \
    -sha256 -extfile "$1.ext" -out "$1.crt"
  rm -f "$1.csr" "$1.ext"
}

issue gateway "DNS:$public"
issue internal "DNS:intake,DNS:routing,DNS:sla,DNS:notify,DNS:console,DNS:localhost,IP:127.0.0.1"
issue smtp "DNS:$public"
issue nats "DNS:nats,DNS:nats-2,DNS:nats-3,DNS:localhost"
issue postgres "DNS:postgres"
# compose bind-mounts each file as a secret, keeping its mode, and the containers read
# them as their own users (hotro 10001, nats, postgres): the files are readable, the
# folder (0700) is what keeps other host users out; the CA key never leaves the folder
chmod 644 ./*.crt ./*.key
chmod 600 ca.key
echo "certificates in $dir (CA: $dir/ca.crt)"
