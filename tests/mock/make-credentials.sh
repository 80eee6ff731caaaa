#!/usr/bin/env bash
# Test credentials for the provider mocks, made once per $VAR:
#   $VAR/credentials/vertex-sa.json     a Google service-account key file
#   $VAR/credentials/vertex-sa.pub.pem  its public key (the Vertex mock
#                                       verifies assertions with it)
# usage: make-credentials.sh VAR
set -euo pipefail
VAR=${1:?usage: make-credentials.sh VAR}
dir=$VAR/credentials
mkdir -p "$dir"
chmod 700 "$dir"
if [ -s "$dir/vertex-sa.json" ] && [ -s "$dir/vertex-sa.pub.pem" ]; then
    exit 0
fi
umask 077
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$dir/vertex-sa.key.pem" 2>/dev/null
openssl pkey -in "$dir/vertex-sa.key.pem" -pubout -out "$dir/vertex-sa.pub.pem"
kid=$(openssl rand -hex 20)
jq -n --rawfile key "$dir/vertex-sa.key.pem" --arg kid "$kid" '{
    type: "service_account",
    project_id: "aigw-test",
    private_key_id: $kid,
    private_key: $key,
    client_email: "aigw-test@aigw-test.iam.gserviceaccount.com",
    client_id: "100000000000000000001",
    auth_uri: "https://accounts.google.com/o/oauth2/auth",
    token_uri: "https://oauth2.googleapis.com/token",
    auth_provider_x509_cert_url: "https://www.googleapis.com/oauth2/v1/certs",
    client_x509_cert_url: "https://www.googleapis.com/robot/v1/metadata/x509/aigw-test%40aigw-test.iam.gserviceaccount.com",
    universe_domain: "googleapis.com"
}' >"$dir/vertex-sa.json.tmp"
mv "$dir/vertex-sa.json.tmp" "$dir/vertex-sa.json"
rm -f "$dir/vertex-sa.key.pem"
