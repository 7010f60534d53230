#!/bin/sh
#  attest-sign.sh - sign an in-toto statement as a DSSE envelope with OpenSSL
#  SPDX-License-Identifier: MPL-2.0
#
#  Usage: attest-sign.sh KEY.pem STATEMENT.json [KEYID] > ENVELOPE.json
#         attest-sign.sh --keygen KEY.pem     (prints the public key in hex)
#         attest-sign.sh --public KEY.pem     (prints the public key in hex)
#
#  What a CI job needs to produce a release check (docs/checks.md): an
#  Ed25519 key (its public half goes into controller.yaml's
#  attestation_keys), the statement, and this script. Nothing but OpenSSL
#  (>= 3.0) and coreutils. The signature is Ed25519 over DSSE's
#  pre-authentication encoding:
#      "DSSEv1" SP len(type) SP type SP len(payload) SP payload
set -eu

public_hex () {
    openssl pkey -in "$1" -pubout -outform DER | tail -c 32 | od -An -v -tx1 | tr -d ' \n'
    echo
}

case "${1:-}" in
    --keygen)
        [ $# -eq 2 ] || { echo "usage: attest-sign.sh --keygen KEY.pem" >&2; exit 2; }
        (umask 077 && openssl genpkey -algorithm ed25519 -out "$2")
        public_hex "$2"
        exit 0 ;;
    --public)
        [ $# -eq 2 ] || { echo "usage: attest-sign.sh --public KEY.pem" >&2; exit 2; }
        public_hex "$2"
        exit 0 ;;
esac
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: attest-sign.sh KEY.pem STATEMENT.json [KEYID] > ENVELOPE.json" >&2
    exit 2
fi
key=$1 statement=$2 keyid=${3:-}
type=application/vnd.in-toto+json
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
length=$(wc -c < "$statement" | tr -d ' ')
printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$length" > "$work/pae"
cat "$statement" >> "$work/pae"
openssl pkeyutl -sign -inkey "$key" -rawin -in "$work/pae" -out "$work/sig"
printf '{"payloadType":"%s","payload":"%s","signatures":[{"keyid":"%s","sig":"%s"}]}\n' \
    "$type" "$(base64 -w0 < "$statement")" "$keyid" "$(base64 -w0 < "$work/sig")"
