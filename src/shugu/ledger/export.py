"""`shugu ledger export`: the whole ledger as one self-contained, verifiable file.

Format `shugu-ledger-export` version 2: UTF-8 JSON lines (gzip-compressed when the file
name ends in .gz), one JSON object per line, in this order:

1. header: {"format": "shugu-ledger-export", "version": 2, "form": "public" | "full",
   "exported_at": ISO 8601, "size": events in the ledger head, "root": the head's root,
   "hash": "sha256", "tree": "rfc6962", "sth_message": "shugu-sth/1", "algorithm": "Ed25519",
   "public_key": base64 raw key or null, "key_id": first 16 hex of its SHA-256 or null}
2. per event, in seq order, its public form: {"t": "e", "seq", "ts" (as hashed, UTC ...Z),
   "action", "subject" (public), "commitment" (version 2 only), "leaf_hash" (hex, as
   stored)}; in the full form also "opening": {"actor", "subject" (full), "payload_json"
   (the exact canonical text), "salt" (version 2) | "payload_sha256" (version 1)}
3. each signed tree head right after the event that completes its size (size 0 before any
   event): {"t": "sth", "size", "root", "timestamp", "signature" (base64), "key_id"}
4. last: {"t": "end", "size", "root"}: where the database's head said the ledger ended.

The public form discloses nothing private and is what anyone may be given; the full form
is for the operator and auditors. Version-1 files (every event with "actor", "payload",
"payload_sha256" inline) are still read by the verifier.

Values are written as stored, not as they ought to be, so `shugu ledger verify FILE` finds
in the file whatever is wrong in the database. The file is written under a temporary name
and renamed into place, streaming: memory does not grow with the ledger.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from shugu.ledger.events import STH_VERSION
from shugu.ledger.merkle import frontier_root
from shugu.ledger.read_db import LedgerDatabase
from shugu.ledger.verify import EXPORT_FORMAT, EXPORT_VERSION, Head, SignedHead, open_text
from shugu.platform_key import key_id_of


@dataclass(frozen=True)
class ExportSummary:
    events: int
    tree_heads: int
    size: int
    root: str | None


def _hex(value: object) -> object:
    return value.hex() if isinstance(value, (bytes, bytearray, memoryview)) else value


def export(
    db: LedgerDatabase, out: Path, *, public_key: str | None,
    progress: Callable[[int], None] | None = None, full: bool = False,
) -> ExportSummary:
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    try:
        head_root: str | None = frontier_root(
            [bytes.fromhex(h) for h in db.head.frontier or []]).hex()
    except (ValueError, TypeError):  # a damaged head row; verify will say so
        head_root = None
    header = {
        "format": EXPORT_FORMAT, "version": EXPORT_VERSION, "form": "full" if full else "public",
        "exported_at": datetime.now(UTC).isoformat(), "size": db.head.size, "root": head_root,
        "hash": "sha256", "tree": "rfc6962", "sth_message": STH_VERSION, "algorithm": "Ed25519",
        "public_key": public_key,
        "key_id": key_id_of(base64.b64decode(public_key)) if public_key else None,
    }
    tmp = out.with_name(out.name + ".partial")
    events = heads = 0
    end: Head | None = None
    try:
        with open_text(tmp, "wt", gz=out.suffix == ".gz") as fh:
            write = fh.write
            write(dumps(header) + "\n")
            for rec in db.records():
                if type(rec) is tuple:
                    (seq, ts, action, shown, commit, leaf,
                     actor, subject, payload, salt, p_hash) = rec
                    line: dict[str, object] = {"t": "e", "seq": seq, "ts": ts,
                                               "action": action, "subject": shown}
                    if commit is not None:
                        line["commitment"] = commit
                    line["leaf_hash"] = _hex(leaf)
                    if full:
                        opening: dict[str, object] = {"actor": actor, "subject": subject,
                                                      "payload_json": payload}
                        if commit is not None:
                            opening["salt"] = salt
                        else:
                            opening["payload_sha256"] = p_hash
                        line["opening"] = opening
                    write(dumps(line) + "\n")
                    events += 1
                    if progress is not None and not events & 0x3FFF:
                        progress(events)
                elif isinstance(rec, SignedHead):
                    write(dumps({"t": "sth", "size": rec.size, "root": rec.root,
                                 "timestamp": rec.timestamp, "signature": rec.signature,
                                 "key_id": rec.key_id}) + "\n")
                    heads += 1
                elif isinstance(rec, Head):
                    end = rec
            assert end is not None  # records() always ends with the head
            root = head_root
            write(dumps({"t": "end", "size": end.size, "root": root}) + "\n")
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if progress is not None:
        progress(events)
    return ExportSummary(events=events, tree_heads=heads, size=end.size, root=root)
