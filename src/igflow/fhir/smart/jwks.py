"""A backend client's public keys as a JWK Set (pure): checked when registered, looked up by ``kid``.

Accepted: RSA keys of 2048 bits or more (signing RS384) and EC keys on P-384 (signing ES384), each with a
``kid`` unique in the set, public parts only. The keys are parsed by PyJWT (``jwt.PyJWK``), which builds
them with ``cryptography``.
"""

from __future__ import annotations

import json
from typing import Any

import jwt
from jwt.exceptions import PyJWKError

MAX_KEYS = 10
MAX_CHARS = 50_000
MIN_RSA_BITS = 2048
#: JWS algorithm -> the key type it needs (SMART requires RS384 and ES384; nothing else is accepted)
ALGORITHMS = {"RS384": "RSA", "ES384": "EC"}
_PRIVATE_PARTS = ("d", "p", "q", "dp", "dq", "qi", "k")


class JwksError(ValueError):
    """A key set that cannot be registered; the message says what to fix."""


def _check_key(index: int, key: Any, seen: set[str]) -> dict[str, Any]:
    where = f"key {index + 1}"
    if not isinstance(key, dict):
        raise JwksError(f"{where} is not a JSON object")
    kid = key.get("kid")
    if not isinstance(kid, str) or not kid.strip():
        raise JwksError(f"{where} has no kid: every key needs one (the assertion's header names it)")
    if len(kid) > 200:
        raise JwksError(f"{where}: the kid is longer than 200 characters")
    where = f"key {kid!r}"
    if kid in seen:
        raise JwksError(f"{where} appears twice: each kid must be unique")
    if any(part in key for part in _PRIVATE_PARTS):
        raise JwksError(f"{where} holds a private or secret key: paste the public key only")
    kty = key.get("kty")
    if kty not in ("RSA", "EC"):
        raise JwksError(f"{where}: kty must be RSA or EC, not {kty!r}")
    alg = key.get("alg")
    if alg is not None and ALGORITHMS.get(alg) != kty:
        raise JwksError(f"{where}: alg must be RS384 (RSA) or ES384 (EC P-384), not {alg!r}")
    if key.get("use") not in (None, "sig"):
        raise JwksError(f"{where}: use must be sig (signing)")
    if kty == "EC" and key.get("crv") != "P-384":
        raise JwksError(f"{where}: an EC key must be on the P-384 curve (ES384), not {key.get('crv')!r}")
    try:
        parsed = jwt.PyJWK(key, algorithm="RS384" if kty == "RSA" else "ES384")
    except (PyJWKError, ValueError, TypeError) as exc:
        raise JwksError(f"{where} cannot be read as a public key ({exc})") from None
    if kty == "RSA" and parsed.key.key_size < MIN_RSA_BITS:
        raise JwksError(
            f"{where}: an RSA key needs at least {MIN_RSA_BITS} bits, this one has {parsed.key.key_size}"
        )
    seen.add(kid)
    return dict(key)


def validate(value: str | dict[str, Any]) -> dict[str, Any]:
    """The key set as stored (``{"keys": [...]}``), or :class:`JwksError` naming the problem."""
    if isinstance(value, str):
        if not value.strip():
            raise JwksError('paste the client\'s public keys as a JWK Set: {"keys": [...]}')
        if len(value) > MAX_CHARS:
            raise JwksError(f"the key set is longer than {MAX_CHARS} characters")
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise JwksError(f"not valid JSON ({exc.args[0] if exc.args else 'cannot be read'})") from None
    if not isinstance(value, dict) or not isinstance(value.get("keys"), list):
        raise JwksError('a JWK Set is a JSON object with a keys list: {"keys": [...]}')
    keys = value["keys"]
    if not keys:
        raise JwksError("the key set has no keys")
    if len(keys) > MAX_KEYS:
        raise JwksError(f"at most {MAX_KEYS} keys")
    seen: set[str] = set()
    return {"keys": [_check_key(i, key, seen) for i, key in enumerate(keys)]}


def find(jwks: dict[str, Any], kid: str) -> dict[str, Any] | None:
    for key in jwks.get("keys", []):
        if isinstance(key, dict) and key.get("kid") == kid:
            return key
    return None


def summary(jwks: dict[str, Any]) -> list[str]:
    """Each key in words for the admin page: ``kid (RSA 2048)`` or ``kid (EC P-384)``."""
    out = []
    for key in jwks.get("keys", []):
        if key.get("kty") == "RSA":
            bits = jwt.PyJWK(key, algorithm="RS384").key.key_size
            out.append(f"{key['kid']} (RSA {bits})")
        else:
            out.append(f"{key['kid']} (EC {key.get('crv')})")
    return out
