#!/usr/bin/env bash
# Makes the certificates the X.509 tests use, with the openssl command line,
# into the directory given as $1 (DER files, *.der). Run by tests/test_x509.c.
set -euo pipefail
d=$1
mkdir -p "$d"
cd "$d"
ossl() { openssl "$@" 2>/dev/null; }
ext() { printf '%s\n' "$@" > ext.cnf; }
der() { ossl x509 -in "$1.pem" -outform DER -out "$1.der"; }

# P-256 root -> intermediate (pathlen 0) -> leaf
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout root.key -out root.pem -days 3650 \
    -subj /CN=cdtls-test-root -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout int.key -out int.csr -subj /CN=cdtls-test-int
ext "basicConstraints=critical,CA:true,pathlen:0" "keyUsage=critical,keyCertSign"
ossl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -out int.pem -days 3650 -extfile ext.cnf
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr -subj /CN=server.example.com
ext "basicConstraints=CA:false" "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
    "subjectAltName=DNS:server.example.com,DNS:*.wild.example.com,IP:127.0.0.1,IP:::1"
ossl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -CAcreateserial -out leaf.pem -days 365 -extfile ext.cnf
# a leaf for clients only
ext "extendedKeyUsage=clientAuth" "subjectAltName=DNS:client.example.com"
ossl x509 -req -in leaf.csr -CA int.pem -CAkey int.key -CAcreateserial -out clientonly.pem -days 365 -extfile ext.cnf
# a CA:false "intermediate" and a leaf under it; and a leaf under the pathlen-0 intermediate's sub-CA
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout notca.key -out notca.csr -subj /CN=not-a-ca
ext "basicConstraints=critical,CA:false"
ossl x509 -req -in notca.csr -CA root.pem -CAkey root.key -CAcreateserial -out notca.pem -days 3650 -extfile ext.cnf
ext "subjectAltName=DNS:server.example.com"
ossl x509 -req -in leaf.csr -CA notca.pem -CAkey notca.key -CAcreateserial -out undernotca.pem -days 365 -extfile ext.cnf
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout sub.key -out sub.csr -subj /CN=cdtls-test-sub
ext "basicConstraints=critical,CA:true" "keyUsage=critical,keyCertSign"
ossl x509 -req -in sub.csr -CA int.pem -CAkey int.key -CAcreateserial -out sub.pem -days 3650 -extfile ext.cnf
ext "subjectAltName=DNS:server.example.com"
ossl x509 -req -in leaf.csr -CA sub.pem -CAkey sub.key -CAcreateserial -out undersub.pem -days 365 -extfile ext.cnf
# another root with the same name but another key (wrong CA)
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout other.key -out otherroot.pem -days 3650 \
    -subj /CN=cdtls-test-root -addext basicConstraints=critical,CA:true

# RSA-2048: root, PKCS#1 v1.5 leaf, RSA-PSS-signed leaf
ossl req -x509 -newkey rsa:2048 -nodes -keyout rsaroot.key -out rsaroot.pem -days 3650 -subj /CN=cdtls-rsa-root \
    -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign
ossl req -newkey rsa:2048 -nodes -keyout rsaleaf.key -out rsaleaf.csr -subj /CN=rsa.example.com
ext "subjectAltName=DNS:rsa.example.com"
ossl x509 -req -in rsaleaf.csr -CA rsaroot.pem -CAkey rsaroot.key -CAcreateserial -out rsaleaf.pem -days 365 -extfile ext.cnf
ossl x509 -req -in rsaleaf.csr -CA rsaroot.pem -CAkey rsaroot.key -CAcreateserial -out rsapss.pem -days 365 -extfile ext.cnf \
    -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:digest -sha256

# Ed25519 self-signed; P-384 leaf signed by the P-256 root with SHA-384
ossl req -x509 -newkey ed25519 -nodes -keyout ed.key -out ed.pem -days 365 -subj /CN=ed.example.com \
    -addext subjectAltName=DNS:ed.example.com
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout p384.key -out p384.csr -subj /CN=p384.example.com
ext "subjectAltName=DNS:p384.example.com"
ossl x509 -req -in p384.csr -CA root.pem -CAkey root.key -CAcreateserial -out p384.pem -days 365 -extfile ext.cnf -sha384

# key formats: PKCS#8 as openssl 3 writes them, SEC1 and PKCS#1 ("traditional")
ossl ec -in leaf.key -out leaf.sec1.pem
ossl rsa -in rsaleaf.key -traditional -out rsaleaf.pkcs1.pem
cat leaf.pem int.pem > chain.pem
# the chains the interop suites hand to openssl (leafchain) and pion (clientchain)
cat leaf.pem int.pem > leafchain.pem
cat clientonly.pem int.pem > clientchain.pem
for c in root int leaf clientonly notca undernotca sub undersub otherroot rsaroot rsaleaf rsapss ed p384; do der $c; done
echo ok
