#!/usr/bin/env python3
"""Cross-language JWT check, driven by tests/jwt_interop.rs.

Usage: python3 tests/interop/pyjwt_check.py <dir>

<dir> holds what the Rust test wrote:
  expected.json       {"now", "ttl", "pid", "sid", "iss", "aud", "hs_kid", "ed_kid", "py_seed_hex"}
  hs256.secret.hex    the shared HS256 secret (hex)
  rs_ed_public.jwk    the public JWK of the Rust Ed25519 signer
  rs_hs256.jwt        a login token signed by the Rust Signer (HS256, typ JWT)
  rs_eddsa.jwt        a login token signed by the Rust Signer (EdDSA, typ JWT)
  rs_result.jwt       a result token signed by the Rust Signer (EdDSA, typ jgs-result+jwt)

It verifies the Rust tokens with PyJWT (no wall clock: time claims are compared to the values
in expected.json), then mints its own tokens for the Rust test to verify:
  py_hs256.jwt, py_eddsa.jwt, py_int_ids.jwt, py_none.jwt, py_jwks.json

Exit status: 0 success, 1 a check failed (reason on stderr), 77 PyJWT/cryptography missing.
Prints nothing on success.
"""

import json
import os
import sys

try:
    import jwt
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from jwt.algorithms import OKPAlgorithm
except ImportError as exc:  # pragma: no cover - environment dependent
    print(f"pyjwt_check: missing module: {exc}", file=sys.stderr)
    sys.exit(77)

# Time checks are off on purpose: `now` comes from the Rust test, never from the wall clock.
NO_CLOCK = {
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "require": ["exp", "iat", "iss", "aud", "jti"],
}


def fail(msg):
    print(f"pyjwt_check: {msg}", file=sys.stderr)
    sys.exit(1)


def read(d, name):
    with open(os.path.join(d, name), "r", encoding="utf-8") as f:
        return f.read().strip()


def write(d, name, text):
    with open(os.path.join(d, name), "w", encoding="utf-8") as f:
        f.write(text)


def check_claims(name, claims, exp):
    for key in ("pid", "sid", "iss"):
        if claims.get(key) != exp[key]:
            fail(f"{name}: {key} = {claims.get(key)!r}, expected {exp[key]!r}")
    if claims["iat"] != exp["now"] or claims["exp"] != exp["now"] + exp["ttl"]:
        fail(f"{name}: iat/exp = {claims['iat']}/{claims['exp']}, expected now={exp['now']} ttl={exp['ttl']}")
    if not isinstance(claims["jti"], str) or not claims["jti"]:
        fail(f"{name}: jti missing or empty: {claims.get('jti')!r}")


def check_header(name, token, alg, typ, kid):
    header = jwt.get_unverified_header(token)
    want = {"alg": alg, "typ": typ, "kid": kid}
    for key, value in want.items():
        if header.get(key) != value:
            fail(f"{name}: header {key} = {header.get(key)!r}, expected {value!r}")


def expect_rejected(name, token, key, alg, exp):
    try:
        jwt.decode(token, key, algorithms=[alg], audience=exp["aud"], issuer=exp["iss"], options=NO_CLOCK)
    except jwt.InvalidTokenError:
        return
    fail(f"{name}: a tampered token verified under PyJWT")


def main():
    if len(sys.argv) != 2:
        fail("usage: pyjwt_check.py <dir>")
    d = sys.argv[1]
    exp = json.loads(read(d, "expected.json"))
    secret = bytes.fromhex(read(d, "hs256.secret.hex"))
    rs_public = jwt.PyJWK(json.loads(read(d, "rs_ed_public.jwk")), algorithm="EdDSA")

    # --- Rust → PyJWT -------------------------------------------------------------------------
    for name, key, alg, typ, kid in (
        ("rs_hs256.jwt", secret, "HS256", "JWT", exp["hs_kid"]),
        ("rs_eddsa.jwt", rs_public.key, "EdDSA", "JWT", exp["ed_kid"]),
        ("rs_result.jwt", rs_public.key, "EdDSA", "jgs-result+jwt", exp["ed_kid"]),
    ):
        token = read(d, name)
        check_header(name, token, alg, typ, kid)
        try:
            claims = jwt.decode(
                token, key, algorithms=[alg], audience=exp["aud"], issuer=exp["iss"], options=NO_CLOCK
            )
        except jwt.InvalidTokenError as e:
            fail(f"{name}: PyJWT refused the Rust token: {e!r}")
        check_claims(name, claims, exp)
        # A flipped payload character must break it under PyJWT too.
        h, p, s = token.split(".")
        p2 = p[:-3] + ("A" if p[-3] != "A" else "B") + p[-2:]
        expect_rejected(name, f"{h}.{p2}.{s}", key, alg, exp)

    # --- PyJWT → Rust -------------------------------------------------------------------------
    now, ttl = exp["now"], exp["ttl"]
    claims = {
        "pid": exp["pid"],
        "sid": exp["sid"],
        "iss": exp["iss"],
        "aud": [exp["aud"], "someone-else"],
        "iat": now,
        "exp": now + ttl,
        "jti": "py-1",
        "extra": {"nested": [1, 2, 3]},
    }
    write(d, "py_hs256.jwt", jwt.encode(claims, secret, algorithm="HS256", headers={"kid": exp["hs_kid"]}))

    py_key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(exp["py_seed_hex"]))
    write(d, "py_eddsa.jwt", jwt.encode(claims, py_key, algorithm="EdDSA", headers={"kid": "py-ed"}))

    int_claims = dict(claims, pid=4242, sid=7)
    write(d, "py_int_ids.jwt", jwt.encode(int_claims, py_key, algorithm="EdDSA", headers={"kid": "py-ed"}))

    # An unsigned token as PyJWT makes it (alg "none", empty signature).
    write(d, "py_none.jwt", jwt.encode(claims, None, algorithm="none", headers={"kid": exp["hs_kid"]}))

    # to_jwk returns a JSON string in every PyJWT 2.x (`as_dict` is newer).
    jwk = json.loads(OKPAlgorithm.to_jwk(py_key.public_key()))
    jwk["kid"] = "py-ed"
    jwk["alg"] = "EdDSA"
    jwk["use"] = "sig"
    write(d, "py_jwks.json", json.dumps({"keys": [jwk]}))


if __name__ == "__main__":
    main()
