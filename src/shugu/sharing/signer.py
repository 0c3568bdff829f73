"""Short-lived signed file URLs, served by shugu itself.

A URL names (table id, entitlement id, expiry, file path) and carries an HMAC-SHA256 over
them made with a server secret kept in the data dir. Whoever holds the URL may fetch that one
file until it expires — and only while the entitlement stays live: the file endpoint checks
the entitlement on every request, so revoking it breaks every outstanding URL at once.

`UrlSigner` is the seam for object storage: a signer that returns presigned S3/OSS URLs can
replace `LocalSigner` without touching the protocol code (the entitlement check then moves to
the URL lifetime, which is why lifetimes are short).

The signature travels in the query key `X-Amz-Signature` on purpose: the official client's
delta-kernel path treats a URL as remote only when it carries a cloud presign key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shugu.errors import Forbidden

KEY_FILE = "sharing_url_hmac.key"
SIGNATURE_PARAM = "X-Amz-Signature"
FILES_PREFIX = "/delta-sharing/files"


@dataclass(frozen=True)
class FileGrant:
    table_id: int
    entitlement_id: int
    expires: int  # unix seconds
    path: str  # relative to the table directory, as in the Delta log (decoded)


class UrlSigner(Protocol):
    def url(self, base_url: str, grant: FileGrant) -> str: ...


def encode_path(path: str) -> str:
    return base64.urlsafe_b64encode(path.encode()).decode().rstrip("=")


def decode_path(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise Forbidden("the file URL is not valid", code="url_invalid") from None


class LocalSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def load_or_create(cls, keys_dir: Path) -> LocalSigner:
        path = keys_dir / KEY_FILE
        if path.exists():
            return cls(path.read_bytes())
        keys_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_bytes(32)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        try:
            # Another process may have won the race: keep the first key, so URLs stay valid.
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return cls(path.read_bytes())

    def _mac(self, table_id: int, entitlement_id: int, expires: int, encoded_path: str) -> str:
        message = f"v1\n{table_id}\n{entitlement_id}\n{expires}\n{encoded_path}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, base_url: str, grant: FileGrant, encoded_path: str | None = None) -> str:
        enc = encoded_path or encode_path(grant.path)
        sig = self._mac(grant.table_id, grant.entitlement_id, grant.expires, enc)
        return (f"{base_url}{FILES_PREFIX}/{grant.table_id}/{grant.entitlement_id}/"
                f"{grant.expires}/{enc}?{SIGNATURE_PARAM}={sig}")

    def verify(self, table_id: int, entitlement_id: int, expires: int, encoded_path: str,
               signature: str | None, now: float) -> FileGrant:
        expected = self._mac(table_id, entitlement_id, expires, encoded_path)
        if not signature or not hmac.compare_digest(expected, signature):
            raise Forbidden("the file URL's signature is not valid", code="url_invalid")
        if expires <= now:
            raise Forbidden("the file URL has expired; query the table again for a new one",
                            code="url_expired")
        return FileGrant(table_id, entitlement_id, expires, decode_path(encoded_path))
