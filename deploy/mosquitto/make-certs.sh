#!/bin/sh
# Makes the TLS files of a first Meterline broker install with openssl: a
# private certificate authority and a server certificate signed by it.
#
#   make-certs.sh [-d DIR] [-days N] NAME [NAME...]
#
# NAME is each DNS name or IP address agents use to reach the broker, e.g.
# mqtt.example.com; the first is also the certificate's common name. Writes
# into DIR (default: .):
#   ca.crt       the CA certificate: give it to every agent ([mqtt] ca_file)
#                and to the broker (cafile)
#   ca.key       the CA key: keep it offline; it signs the next server
#                certificate, and anyone holding it can impersonate the broker
#   server.crt   the broker's certificate (certfile), valid N days (825)
#   server.key   its key (keyfile)
#
# Run it again to renew the server certificate (before it expires, or for
# new names): an existing ca.crt and ca.key are reused, so agents keep
# trusting the broker. Delete them to start a new CA, which every agent must
# then be given.
#
# A certificate from a real CA (your company's, or a public one such as
# Let's Encrypt) works as well: then agents need no ca_file at all when the
# CA is in their system store; point cafile, certfile and keyfile at it.
set -eu

usage() {
	echo "usage: make-certs.sh [-d DIR] [-days N] NAME [NAME...]" >&2
	exit 2
}

dir=.
days=825
while [ $# -gt 0 ]; do
	case "$1" in
	-d) [ $# -ge 2 ] || usage; dir=$2; shift 2 ;;
	-days) [ $# -ge 2 ] || usage; days=$2; shift 2 ;;
	-h | --help) usage ;;
	-*) echo "make-certs.sh: unknown option $1" >&2; usage ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || usage
case "$days" in
'' | *[!0-9]*) echo "make-certs.sh: -days wants a number of days, got '$days'" >&2; exit 2 ;;
esac
command -v openssl >/dev/null 2>&1 || { echo "make-certs.sh: openssl is not installed" >&2; exit 1; }

# subjectAltName: what TLS clients check the broker's name against (the
# common name alone is ignored by Go and other modern clients).
san=
for name in "$@"; do
	case "$name" in
	*[!0-9.]*)
		case "$name" in
		*:*) entry="IP:$name" ;; # IPv6
		*) entry="DNS:$name" ;;
		esac
		;;
	*) entry="IP:$name" ;; # IPv4
	esac
	san=${san:+$san,}$entry
done

mkdir -p "$dir"
umask 077
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -e "$dir/ca.key" ] && [ -e "$dir/ca.crt" ]; then
	echo "make-certs.sh: reusing the CA in $dir" >&2
else
	openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key"
	openssl req -new -x509 -sha256 -key "$dir/ca.key" -days 3650 \
		-subj "/O=Meterline/CN=Meterline broker CA" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-out "$dir/ca.crt"
	echo "make-certs.sh: made a new CA: $dir/ca.crt (valid 10 years)" >&2
fi

openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/server.key"
openssl req -new -sha256 -key "$tmp/server.key" -subj "/O=Meterline/CN=$1" -out "$tmp/server.csr"
cat >"$tmp/server.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=$san
EXT
openssl x509 -req -sha256 -in "$tmp/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
	-CAcreateserial -CAserial "$tmp/ca.srl" -days "$days" -extfile "$tmp/server.ext" \
	-out "$tmp/server.crt" 2>/dev/null
openssl verify -CAfile "$dir/ca.crt" "$tmp/server.crt" >/dev/null

# Replace the pair only once both are made.
mv "$tmp/server.key" "$dir/server.key"
mv "$tmp/server.crt" "$dir/server.crt"
chmod 0644 "$dir/ca.crt" "$dir/server.crt"
echo "make-certs.sh: made $dir/server.crt for $san (valid $days days)" >&2
