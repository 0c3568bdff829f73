"""Offline verification of a voucher's evidence bundle (no server, no database).

Checks, each reported by name:
- content: the voucher content hashes to `content_sha256`;
- event <seq>: the event's opening (actor, subject, payload text, salt) hashes to its
  commitment (`shugu.ledger.openings`), and its leaf is included in the signed tree by its
  audit path;
- tree_head: the tree head's signature verifies under the platform key (pinned by the
  auditor; the key carried in the bundle is used only when none is given, and said so);
- links: the voucher.issued event carries this content hash and number; the invoice event
  carries the invoice number and total; the settlement event lists the invoice; the
  agreement event carries the agreement's terms hash.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from shugu.jsoncanon import canonical_bytes
from shugu.ledger.events import sth_message
from shugu.ledger.openings import BundleReport, OpeningMismatch, opened_leaf
from shugu.ledger.proofs import verify_inclusion
from shugu.platform_key import verify_signature


@dataclass
class VoucherReport(BundleReport):
    """The ledger's verdict on openings, for one voucher (its number, when readable)."""

    number: str | None = None


def verify(bundle: dict[str, Any], public_key: str | None = None) -> VoucherReport:
    content = bundle.get("voucher")
    report = VoucherReport(number=content.get("voucher") if isinstance(content, dict)
                           else None)
    try:
        _verify(bundle, public_key, report)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        report.add("format", False, f"not a voucher evidence bundle: {exc!r}")
    return report


def _verify(bundle: dict[str, Any], public_key: str | None, report: VoucherReport) -> None:
    if bundle.get("format") not in ("shugu-voucher-evidence/1", "shugu-voucher-evidence/2"):
        report.add("format", False, f"unknown format {bundle.get('format')!r}")
        return
    content = bundle["voucher"]
    digest = hashlib.sha256(canonical_bytes(content)).hexdigest()
    report.add("content", digest == bundle["content_sha256"],
               "voucher content matches its hash" if digest == bundle["content_sha256"]
               else f"voucher content hashes to {digest}, not {bundle['content_sha256']}")

    sth = bundle["tree_head"]
    key = public_key or sth["public_key"]
    signed = verify_signature(key, sth_message(int(sth["size"]), sth["root"], sth["timestamp"]),
                              sth["signature"])
    pinned = "" if public_key else " (key taken from the bundle itself: pin the platform key " \
        "with --public-key for an independent check)"
    report.add("tree_head", signed,
               (f"tree head of size {sth['size']} signed by the platform key" if signed
                else f"tree head of size {sth['size']} has a bad signature") + pinned)

    root = bytes.fromhex(sth["root"])
    by_action: dict[str, dict[str, Any]] = {}
    for e in bundle["events"]:
        name = f"event {e['seq']} ({e['action']})"
        if "opening" in e:
            opening = e["opening"]
        else:  # format 1: version-1 events with their fields inline
            if hashlib.sha256(e["payload_json"].encode()).hexdigest() != e["payload_sha256"]:
                report.add(name, False, "payload text does not match its hash")
                continue
            opening = {"actor": e["actor"], "subject": e["subject"],
                       "payload_json": e["payload_json"]}
            e = {k: e[k] for k in ("seq", "ts", "action", "subject", "audit_path")}
        try:
            leaf = opened_leaf(e, opening)
        except OpeningMismatch as exc:
            report.add(name, False, str(exc))
            continue
        included = verify_inclusion(leaf, int(e["seq"]), int(sth["size"]),
                                    [bytes.fromhex(p) for p in e["audit_path"]], root)
        if not included:
            report.add(name, False, "not included in the signed tree (audit path fails)")
        else:
            report.add(name, True, "included in the signed tree")
        by_action[e["action"]] = {**e, "payload": json.loads(opening["payload_json"])}

    links = []
    voucher_event = by_action.get("voucher.issued", {}).get("payload", {})
    links.append(("voucher.issued carries this content hash and number",
                  voucher_event.get("content_sha256") == bundle["content_sha256"]
                  and voucher_event.get("number") == content["voucher"]))
    invoice = by_action.get("invoice.issued", {}).get("payload", {})
    links.append(("invoice.issued matches the invoice number and total",
                  invoice.get("number") == content["invoice"]["number"]
                  and invoice.get("total_fen") == content["invoice"]["total_fen"]
                  and by_action["invoice.issued"]["seq"] == content["invoice"]["ledger_seq"]))
    settlement = by_action.get("settlement.completed", {}).get("payload", {})
    links.append(("settlement.completed lists the invoice",
                  settlement.get("number") == content["settlement"]["number"]
                  and content["invoice"]["number"] in settlement.get("invoices", [])))
    agreement = by_action.get("agreement.concluded", {}).get("payload", {})
    links.append(("agreement.concluded carries the agreement's terms hash",
                  agreement.get("terms_hash") == content["agreement"]["terms_sha256"]))
    for text, ok in links:
        report.add("links", ok, text if ok else f"broken link: {text} (it does not)")
