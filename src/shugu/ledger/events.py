"""The byte forms of the ledger, shared by the writer and the offline verifier.

Three things are hashed or signed, and their byte forms are part of the ledger's contract
(canonical JSON: keys sorted, no spaces, UTF-8, non-ASCII unescaped; ts is UTC
"YYYY-MM-DDTHH:MM:SS.ffffffZ"):

- the commitment of an event (`commitment`): hex SHA-256 of the canonical JSON object
  {"actor","payload","salt","subject"}, payload being the payload's canonical JSON *text*
  (a string), salt 32 random hex digits and subject the full (private) subject. It binds
  what only the parties see; the salt stops anyone guessing a small payload from its hash.
- a leaf, over the event's public form only, so that proofs and verification need nothing
  private. Version 2 (`leaf_data_v2`, every event appended since the ledger became a log of
  commitments): {"action","commitment","seq","subject","ts"} with the *public* subject.
  Version 1 (`leaf_data`, events written before; their leaves are signed and stay as they
  are): {"action","actor","payload_sha256","seq","subject","ts"} with the full subject and
  the unsalted payload hash. The two key sets differ, so no leaf reads as the other version.
- a signed tree head (`sth_message`), see STH_VERSION below.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from typing import Any

from shugu.jsoncanon import canonical_bytes

# Version tag that opens every signed tree head message; bump it if the message changes.
STH_VERSION = "shugu-sth/1"

# Subject segments whose value names something a stranger may not know of: a product's
# slug or a table's name (a draft product's name tells of its existence), and the serial
# numbers of invoices, settlements and vouchers (the REST API hides those trades from
# strangers). The public form shows the kind only ("product:~"); parties see the whole
# subject in the opening. Numeric ids (offer:12) reveal no more than that something of that
# kind exists.
BLINDED_KINDS = frozenset({"product", "table", "invoice", "settlement", "voucher"})
BLIND = "~"
_NUMERIC = re.compile(r"[0-9]+")


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


def new_salt() -> str:
    return secrets.token_hex(16)


def public_subject(subject: str) -> str:
    """The subject as the public sees it: `product:power-use/table:monthly` becomes
    `product:~/table:~`; `offer:12` or `table:7` (numeric ids) stay as they are."""
    parts = []
    for segment in subject.split("/"):
        kind, sep, value = segment.partition(":")
        if sep and kind in BLINDED_KINDS and not _NUMERIC.fullmatch(value):
            segment = f"{kind}:{BLIND}"
        parts.append(segment)
    return "/".join(parts)


def commitment(actor: str, subject: str, payload_json: str, salt: str) -> str:
    """The salted hash that the public sees in place of the event's private fields."""
    return hashlib.sha256(
        f'{{"actor":{encode_basestring(actor)},"payload":{encode_basestring(payload_json)},'
        f'"salt":{encode_basestring(salt)},"subject":{encode_basestring(subject)}}}'.encode()
    ).hexdigest()


def commitment_data(actor: str, subject: str, payload_json: str, salt: str) -> bytes:
    """The bytes `commitment` hashes, built the slow, obvious way (for tests and readers)."""
    return canonical_bytes({"actor": actor, "payload": payload_json, "salt": salt,
                            "subject": subject})


def leaf_data_v2(seq: int, ts: datetime | str, action: str, subject: str,
                 commitment_hex: str) -> bytes:
    """What a version-2 leaf commits to: the event's public form (public subject)."""
    return (
        f'{{"action":{encode_basestring(action)},'
        f'"commitment":{encode_basestring(commitment_hex)},"seq":{int(seq)},'
        f'"subject":{encode_basestring(subject)},'
        f'"ts":{encode_basestring(ts if isinstance(ts, str) else format_ts(ts))}}}'
    ).encode()
