"""The platform's Ed25519 signing key, created on first start and kept in the data dir."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

KEY_FILE = "platform_ed25519.pem"


def key_id_of(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


@dataclass(frozen=True)
class PlatformKey:
    private: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @property
    def public_b64(self) -> str:
        return base64.b64encode(self.public_raw).decode()

    @property
    def key_id(self) -> str:
        return key_id_of(self.public_raw)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.private.sign(message)).decode()

    @classmethod
    def load_or_create(cls, keys_dir: Path) -> PlatformKey:
        path = keys_dir / KEY_FILE
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            assert isinstance(key, Ed25519PrivateKey)
            return cls(key)
        keys_dir.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        # Written to a temporary name and renamed so a crash never leaves half a key.
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        os.replace(tmp, path)
        return cls(key)


def verify_signature(public_b64: str, message: bytes, signature_b64: str) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64)).verify(
            base64.b64decode(signature_b64), message
        )
    except (InvalidSignature, ValueError):
        return False
    return True


class InvalidPublicKey(ValueError):
    """A text given as the platform's public key is not one (not base64, wrong length)."""


def check_public_key(public_b64: str) -> bytes:
    """The raw 32 bytes of a base64 Ed25519 public key, or InvalidPublicKey saying why not.

    Verifiers call this on a key they are handed before checking any signature with it, so
    that a mistyped key is reported as such instead of as a forged signature.
    """
    if not isinstance(public_b64, str):
        raise InvalidPublicKey(f"the public key must be text, not {type(public_b64).__name__}")
    try:
        raw = base64.b64decode(public_b64.strip(), validate=True)
    except ValueError:
        raise InvalidPublicKey(f"the public key {public_b64!r} is not base64") from None
    if len(raw) != 32:
        raise InvalidPublicKey(f"the public key {public_b64!r} is {len(raw)} bytes, not the 32 "
                               "of an Ed25519 public key")
    try:
        Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise InvalidPublicKey(f"the public key {public_b64!r} is not an Ed25519 key: "
                               f"{exc}") from None
    return raw
