"""Openings: what a party hands an auditor to prove an event's private fields.

An event's public form is {"seq","ts","action","subject" (public),"commitment","leaf_hash"}
(version 2) or {"seq","ts","action","subject","leaf_hash"} (version 1, no commitment).
Its opening is {"actor","subject" (full),"payload_json" (the exact canonical text),"salt"}
(version 2) or without "salt" (version 1). The opening is right when it hashes to the
commitment (version 2) or rebuilds the leaf (version 1), and it is on the ledger when the
leaf is included, by its audit path, in a tree head the platform key signed.

An opening bundle (`shugu-ledger-openings/1`, from GET /ledger/openings and
`shugu ledger openings`) carries a signed tree head and, per event, the public form, the
opening and the audit path to that head; `verify_bundle` checks it with nothing but
hashlib and the platform's public key. Nothing here reads a database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from shugu.ledger.events import (
    commitment,
    leaf_data,
    leaf_data_v2,
    public_subject,
    sth_message,
)
from shugu.ledger.merkle import leaf_hash
from shugu.ledger.proofs import verify_inclusion
from shugu.platform_key import InvalidPublicKey, check_public_key, key_id_of, verify_signature

BUNDLE_FORMAT = "shugu-ledger-openings/1"


class OpeningMismatch(ValueError):
    """The opening does not belong to the public event it is given with."""


def public_leaf(event: dict[str, Any]) -> bytes:
    """The leaf hash of a public event: rebuilt for version 2, as given for version 1
    (whose leaf covers private fields and can be rebuilt only from its opening)."""
    if event.get("commitment") is not None:
        return leaf_hash(leaf_data_v2(_int(event["seq"]), str(event["ts"]),
                                      str(event["action"]), str(event["subject"]),
                                      str(event["commitment"])))
    return bytes.fromhex(str(event["leaf_hash"]))


def opened_leaf(event: dict[str, Any], opening: dict[str, Any]) -> bytes:
    """The leaf hash of an event checked against its opening; OpeningMismatch if they
    disagree (the opening was altered, or belongs to another event)."""
    actor, subject = str(opening["actor"]), str(opening["subject"])
    payload = str(opening["payload_json"])
    if event.get("commitment") is not None:
        if public_subject(subject) != event["subject"]:
            raise OpeningMismatch(f"the opening's subject {subject!r} is not the one the "
                                  f"event shows as {event['subject']!r}")
        if commitment(actor, subject, payload, str(opening["salt"])) != event["commitment"]:
            raise OpeningMismatch("the opening does not hash to the event's commitment "
                                  "(actor, subject, payload or salt altered)")
        return public_leaf(event)
    p_hash = hashlib.sha256(payload.encode()).hexdigest()
    leaf = leaf_hash(leaf_data(_int(event["seq"]), str(event["ts"]), actor,
                               str(event["action"]), subject, p_hash))
    if "leaf_hash" in event and event["leaf_hash"] is not None \
            and leaf.hex() != event["leaf_hash"]:
        raise OpeningMismatch("the opening does not rebuild the event's leaf (actor, "
                              "subject or payload altered)")
    return leaf


def _int(value: Any) -> int:
    if type(value) is not int:
        raise ValueError(f"{value!r} is not an integer")
    return value


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class BundleReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))


def verify_bundle(bundle: dict[str, Any], public_key: str | None) -> BundleReport:
    """Check every opening of a bundle against its event and the event against the signed
    tree head. `public_key` pins the platform key; without it the bundle's own is used
    (and the report says so: that proves consistency, not origin)."""
    report = BundleReport()
    if public_key is not None:
        check_public_key(public_key)  # a nonsense key is the caller's error, not the file's
    try:
        _verify(bundle, public_key, report)
    except InvalidPublicKey as exc:
        report.add("tree_head", False, f"the bundle's own key is unusable: {exc}")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        report.add("format", False, f"not an openings bundle: {exc!r}")
    return report


def _verify(bundle: dict[str, Any], public_key: str | None, report: BundleReport) -> None:
    if bundle.get("format") != BUNDLE_FORMAT:
        report.add("format", False, f"unknown format {bundle.get('format')!r}")
        return
    sth = bundle["tree_head"]
    key = public_key or sth["public_key"]
    size, root = _int(sth["size"]), bytes.fromhex(sth["root"])
    signed = (sth.get("key_id") == key_id_of_b64(key)
              and verify_signature(key, sth_message(size, sth["root"], sth["timestamp"]),
                                   sth["signature"]))
    pinned = "" if public_key else " (key taken from the bundle itself: pin the platform " \
        "key with --public-key for an independent check)"
    report.add("tree_head", signed,
               (f"tree head of size {size} signed by the platform key" if signed
                else f"tree head of size {size} is not signed by the platform key") + pinned)
    items = bundle["items"]
    if not items:
        report.add("openings", False, "the bundle holds no opening")
    for item in items:
        event, opening = item["event"], item["opening"]
        name = f"event {event['seq']} ({event['action']})"
        try:
            leaf = opened_leaf(event, opening)
        except OpeningMismatch as exc:
            report.add(name, False, str(exc))
            continue
        included = verify_inclusion(leaf, _int(event["seq"]), size,
                                    [bytes.fromhex(p) for p in item["audit_path"]], root)
        report.add(name, included,
                   "opening matches the commitment; included in the signed tree" if included
                   else "not included in the signed tree (audit path fails)")


def key_id_of_b64(public_b64: str) -> str:
    return key_id_of(check_public_key(public_b64))
