"""The byte form of a ledger event, shared by the writer and the offline verifier."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from shugu.jsoncanon import canonical_bytes


def format_ts(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def payload_hash(payload_json: str) -> str:
    return hashlib.sha256(payload_json.encode("utf-8")).hexdigest()


def leaf_data(
    seq: int, ts: datetime | str, actor: str, action: str, subject: str, payload_sha256: str
) -> bytes:
    """What the Merkle leaf commits to; the payload enters through its hash."""
    record: dict[str, Any] = {
        "seq": seq,
        "ts": ts if isinstance(ts, str) else format_ts(ts),
        "actor": actor,
        "action": action,
        "subject": subject,
        "payload_sha256": payload_sha256,
    }
    return canonical_bytes(record)
