"""The certificate file: signing and offline verification (no server, no database).

A file is JSON: {"format": "shugu-certificate/1", "certificate": {...}, "signature":
{"algorithm": "Ed25519", "key_id", "public_key", "value"}}. `value` is the base64 Ed25519
signature of the canonical JSON (shugu.jsoncanon: sorted keys, no spaces, UTF-8) of
`certificate`; `key_id` is the first 16 hex digits of SHA-256 of the raw public key.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from shugu.jsoncanon import canonical_bytes
from shugu.platform_key import PlatformKey, key_id_of, verify_signature

FORMAT = "shugu-certificate/1"


def sign(content: dict[str, Any], key: PlatformKey) -> dict[str, Any]:
    return {"algorithm": "Ed25519", "key_id": key.key_id, "public_key": key.public_b64,
            "value": key.sign(canonical_bytes(content))}


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    number: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


class Unreadable(Exception):
    """The input is not a certificate file at all."""


def _key_id_or_raw(public_b64: str) -> str:
    try:
        return key_id_of(base64.b64decode(public_b64, validate=True))
    except (binascii.Error, ValueError):
        return repr(public_b64)


def verify(doc: Any, trusted_key: str | None = None, now: datetime | None = None) -> Verdict:
    """Check a certificate file; each problem names what failed."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise Unreadable(f"not a shugu certificate file (format must be {FORMAT!r})")
    content, sig = doc.get("certificate"), doc.get("signature")
    if not isinstance(content, dict) or not isinstance(sig, dict):
        raise Unreadable("the file lacks its certificate or signature object")
    verdict = Verdict(number=content.get("number") if isinstance(content.get("number"), str)
                      else None)
    public_key, key_id, value = sig.get("public_key"), sig.get("key_id"), sig.get("value")
    if sig.get("algorithm") != "Ed25519":
        verdict.problems.append(f"signature algorithm {sig.get('algorithm')!r} is not Ed25519")
        return verdict
    if not all(isinstance(x, str) for x in (public_key, key_id, value)):
        verdict.problems.append("signature: key_id, public_key and value must be strings")
        return verdict
    assert isinstance(public_key, str) and isinstance(value, str)
    try:
        raw = base64.b64decode(public_key, validate=True)
    except (binascii.Error, ValueError):
        verdict.problems.append("signature.public_key is not base64")
        return verdict
    if key_id != key_id_of(raw):
        verdict.problems.append(f"signature.key_id {key_id} does not belong to the public key "
                                f"in the file ({key_id_of(raw)})")
    if trusted_key is None:
        verdict.warnings.append("no trusted key given (--public-key or --url): checked against "
                                "the key inside the file, which proves integrity, not origin")
    elif trusted_key.strip() != public_key:
        verdict.problems.append(f"signed by key {key_id}, not by the trusted platform key "
                                f"{_key_id_or_raw(trusted_key)}")
    if not verify_signature(public_key, canonical_bytes(content), value):
        verdict.problems.append("signature does not match the certificate content (the content "
                                "was altered or signed with another key)")
    now = now or datetime.now(UTC)
    try:
        valid_until = datetime.fromisoformat(str(content.get("valid_until")))
        issued = datetime.fromisoformat(str(content.get("issued_at")))
    except ValueError:
        verdict.problems.append("issued_at/valid_until are not ISO 8601 dates")
        return verdict
    if now >= valid_until:
        verdict.problems.append(f"expired on {valid_until.isoformat()}")
    elif now < issued:
        verdict.problems.append(f"not valid before {issued.isoformat()}")
    verdict.warnings.append("offline verification cannot see a later pledge, transfer or "
                            "cancellation; the current status is at GET "
                            "/api/v1/public/certificates/{number}")
    return verdict
