"""Ed25519 keys that sign the audit log's checkpoints (through the ``cryptography`` package).

The private key never goes into the database: it comes from a file (``IGFLOW_AUDIT_SIGNING_KEY_FILE``,
PEM, written by ``igflow audit keygen`` with mode 0600) or from an environment secret
(``IGFLOW_AUDIT_SIGNING_KEY``, PEM or the base64 of the 32-byte seed). With neither set, a key file
``./igflow-audit-signing.key`` in the working folder is created on first use: that is for ``make demo``
and development; production names its own file or secret, kept away from the database's credentials.

Verification needs only the public key (``IGFLOW_AUDIT_PUBLIC_KEY_FILE`` or ``--public-key``), so an
auditor can check the log without being able to sign.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from igflow.config import Settings
from igflow.errors import IgflowError

log = logging.getLogger("igflow.audit")

DEV_KEY_FILE = Path("igflow-audit-signing.key")


class SigningKeyError(IgflowError):
    """The signing or verification key is missing or unreadable."""


def key_id(public_key: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


@dataclass(frozen=True)
class Signer:
    private_key: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public_key)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.private_key.sign(message)).decode()

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def signature_valid(public_key: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        public_key.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True


def write_key_file(signer: Signer, path: Path, *, overwrite: bool = False) -> Path:
    """Write the private key (mode 0600, created that way) and its public key beside it (``.pub``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(signer.private_pem())
    os.chmod(path, 0o600)
    pub = path.with_name(path.name + ".pub")
    pub.write_bytes(public_pem(signer.public_key))
    return pub


def _private_from_bytes(data: bytes, where: str) -> Signer:
    text = data.strip()
    try:
        if text.startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(text, password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except ValueError as exc:
        raise SigningKeyError(f"{where}: not an Ed25519 private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{where}: the key is not Ed25519")
    return Signer(key)


def load_signer(settings: Settings) -> Signer:
    """The checkpoint signing key from the settings; the development key file is created on first use."""
    if settings.audit_signing_key is not None:
        return _private_from_bytes(
            settings.audit_signing_key.get_secret_value().encode(), "IGFLOW_AUDIT_SIGNING_KEY"
        )
    if settings.audit_signing_key_file is not None:
        path = settings.audit_signing_key_file
        if not path.exists():
            raise SigningKeyError(
                f"IGFLOW_AUDIT_SIGNING_KEY_FILE: {path} does not exist (create it with `igflow audit keygen`)"
            )
        return _private_from_bytes(path.read_bytes(), str(path))
    path = DEV_KEY_FILE.resolve()
    if not path.exists():
        try:
            write_key_file(Signer.generate(), path)
            log.warning(
                "created the development audit signing key %s (set IGFLOW_AUDIT_SIGNING_KEY_FILE)", path
            )
        except FileExistsError:  # another process made it first
            pass
    return _private_from_bytes(path.read_bytes(), str(path))


def load_public_key_file(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"{path}: {exc.strerror}") from None
    try:
        if b"PRIVATE KEY" in data:
            return _private_from_bytes(data, str(path)).public_key
        key = serialization.load_pem_public_key(data.strip())
    except ValueError as exc:
        raise SigningKeyError(f"{path}: not an Ed25519 public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path}: the key is not Ed25519")
    return key


def load_verify_key(settings: Settings, public_key_file: Path | None = None) -> Ed25519PublicKey | None:
    """The public key checkpoints are checked against: an explicit public key file, else the public half
    of the configured signing key; ``None`` when there is neither (nothing is created by verifying)."""
    path = public_key_file or settings.audit_public_key_file
    if path is not None:
        return load_public_key_file(path)
    if settings.audit_signing_key is not None or settings.audit_signing_key_file is not None:
        return load_signer(settings).public_key
    dev = DEV_KEY_FILE.resolve()
    if dev.exists():
        return _private_from_bytes(dev.read_bytes(), str(dev)).public_key
    return None
