"""Checks a Web Push message with implementations the project did not write.

Reads one JSON object on stdin: the message body the server POSTed (base64), the receiving
browser's P-256 private key (base64url, 32 bytes) and auth secret (base64url), the request's
Authorization header and the audience it must name. Decrypts the body with http_ece (RFC 8291,
aes128gcm) and verifies the VAPID token (RFC 8292, ES256) with py_vapid over the key in the
header's `k=`, then prints one JSON object: the plaintext (base64), the claims and the key.
Exits non-zero, saying why, if either check fails.
"""

import base64
import json
import sys

import http_ece
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import jwt as vapid_jwt


def b64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def main():
    given = json.load(sys.stdin)
    private = ec.derive_private_key(
        int.from_bytes(b64url(given["private_key"]), "big"), ec.SECP256R1()
    )
    plaintext = http_ece.decrypt(
        base64.b64decode(given["body"]),
        private_key=private,
        auth_secret=b64url(given["auth"]),
        version="aes128gcm",
    )
    scheme, _, params = given["authorization"].partition(" ")
    if scheme != "vapid":
        sys.exit("the Authorization scheme is not vapid")
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    claims = vapid_jwt.decode(fields["t"], fields["k"])
    if claims.get("aud") != given["audience"]:
        sys.exit("the token's aud is not the endpoint's origin")
    json.dump(
        {
            "plaintext": base64.b64encode(plaintext).decode(),
            "claims": claims,
            "k": fields["k"],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
