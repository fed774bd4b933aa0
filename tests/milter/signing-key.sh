# signing-key.sh - sourced by a script's .setup: an RSA signing key in
# $DIR/rsa.pem, for the .conf lines "Domain example.com", "Selector s2026"
# and "KeyFile @DIR@/rsa.pem" (keytable and signingtable use it too)
(umask 077; openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$DIR/rsa.pem" 2>/dev/null)
