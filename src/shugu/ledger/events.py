"""The byte forms of the ledger, shared by the writer and the offline verifier.

Two things are hashed or signed, and both byte forms are part of the ledger's contract:

- a leaf (`leaf_data`): the canonical JSON object
  {"action","actor","payload_sha256","seq","subject","ts"} (keys sorted, no spaces, UTF-8,
  non-ASCII unescaped), where ts is UTC "YYYY-MM-DDTHH:MM:SS.ffffffZ" and payload_sha256 the
  hex SHA-256 of the payload's canonical JSON text;
- a signed tree head (`sth_message`), see STH_VERSION below.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from shugu.jsoncanon import canonical_bytes

# Version tag that opens every signed tree head message; bump it if the message changes.
STH_VERSION = "shugu-sth/1"


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


def leaf_data_fast(
    seq: int, ts: str, actor: str, action: str, subject: str, payload_sha256: str
) -> bytes:
    """Byte-for-byte `leaf_data` for the verifier's hot loop, without building a dict.

    encode_basestring is the string encoder json.dumps(ensure_ascii=False) itself uses, and
    the keys are written in sorted order, so the result is the same canonical JSON; a
    property test holds the two together. `seq` must be a real int (callers check).
    """
    return (
        f'{{"action":{encode_basestring(action)},"actor":{encode_basestring(actor)},'
        f'"payload_sha256":{encode_basestring(payload_sha256)},"seq":{seq},'
        f'"subject":{encode_basestring(subject)},"ts":{encode_basestring(ts)}}}'
    ).encode()


def sth_message(size: int, root_hex: str, ts: datetime | str) -> bytes:
    """The bytes the platform key signs for a tree head (UTF-8, four lines, no final newline):

        shugu-sth/1
        <size, decimal>
        <root, 64 lowercase hex digits: RFC 6962 Merkle tree hash of the first size events>
        <timestamp, UTC YYYY-MM-DDTHH:MM:SS.ffffffZ>
    """
    stamp = ts if isinstance(ts, str) else format_ts(ts)
    return f"{STH_VERSION}\n{int(size)}\n{root_hex}\n{stamp}".encode()
