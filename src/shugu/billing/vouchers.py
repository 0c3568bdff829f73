"""Trade vouchers (交易凭证) and the evidence that lets anyone check one against the ledger.

A voucher's content names the trade's parties, the agreement (with its terms hash), the
invoice, the settlement and the split, together with the ledger sequence numbers of the
events that recorded each step. Its SHA-256 over canonical JSON goes into the
voucher.issued event. The evidence bundle adds those events' public forms and openings
(actor, subject, exact payload text, salt: the voucher's holder is a party to them), a
signed tree head and an inclusion proof per event, which is all `shugu voucher verify`
needs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu.billing import invoicing
from shugu.billing.models import Invoice, Settlement, SettlementLine, Voucher
from shugu.billing.periods import document_number
from shugu.catalog.models import Product
from shugu.contracts.models import Agreement
from shugu.db import utcnow
from shugu.errors import NotFound
from shugu.identity.models import Organization
from shugu.jsoncanon import canonical_bytes
from shugu.ledger import browse, proofs
from shugu.ledger import service as ledger
from shugu.ledger.events import format_ts
from shugu.ledger.models import LedgerEvent, TreeHead
from shugu.platform_key import PlatformKey

AGREEMENT_EVENT = "agreement.concluded"


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(content)).hexdigest()


def _party(session: Session, org_id: int | None) -> dict[str, Any] | None:
    if org_id is None:
        return None
    org = session.get(Organization, org_id)
    assert org is not None
    return {"org_id": org.id, "name": org.name, "uscc": org.uscc}


def agreement_event_seq(session: Session, agreement: Agreement) -> int:
    seq = session.scalar(select(LedgerEvent.seq).where(
        LedgerEvent.action == AGREEMENT_EVENT,
        LedgerEvent.subject == f"agreement:{agreement.id}").order_by(LedgerEvent.seq).limit(1))
    if seq is None:
        raise NotFound(f"agreement {agreement.number} has no {AGREEMENT_EVENT} ledger event",
                       code="agreement_event_missing")
    return int(seq)


def issue(session: Session, actor: str, invoice: Invoice, line: SettlementLine,
          settlement: Settlement) -> Voucher:
    agreement = session.get(Agreement, invoice.agreement_id)
    product = session.get(Product, invoice.product_id)
    assert agreement is not None and product is not None
    voucher = Voucher(number="", invoice_id=invoice.id, settlement_id=settlement.id,
                      content={}, content_sha256="", ledger_seq=0, issued_at=utcnow())
    session.add(voucher)
    session.flush()
    voucher.number = document_number("SG-VCH", voucher.issued_at, voucher.id)
    content = {
        "voucher": voucher.number,
        "issued_at": voucher.issued_at,
        "currency": "CNY",
        "product": {"slug": product.slug, "title": product.title_zh},
        "consumer": _party(session, invoice.consumer_org_id),
        "provider": _party(session, invoice.provider_org_id),
        "broker": _party(session, line.broker_org_id),
        "agreement": {"number": agreement.number, "terms_sha256": agreement.terms_hash,
                      "plan": agreement.plan, "price_fen": agreement.price_fen,
                      "ledger_seq": agreement_event_seq(session, agreement)},
        "invoice": {"number": invoice.number, "period_start": invoice.period_start,
                    "period_end": invoice.period_end, "total_fen": invoice.total_fen,
                    "lines": [{"kind": x.kind, "quantity": x.quantity, "unit": x.unit,
                               "unit_price_fen": x.unit_price_fen, "unit_size": x.unit_size,
                               "amount_fen": x.amount_fen}
                              for x in invoicing.lines_of(session, invoice.id)],
                    "ledger_seq": invoice.ledger_seq},
        "settlement": {"number": settlement.number, "ledger_seq": settlement.ledger_seq},
        "split": {"provider_bp": line.provider_bp, "broker_bp": line.broker_bp,
                  "platform_bp": line.platform_bp, "provider_fen": line.provider_fen,
                  "broker_fen": line.broker_fen, "platform_fen": line.platform_fen},
    }
    # Stored as it will be read back (datetimes as ISO text), so the hash is stable.
    content = _plain(content)
    voucher.content = content
    voucher.content_sha256 = content_hash(content)
    event = ledger.append(session, actor=actor, action="voucher.issued",
                          subject=f"voucher:{voucher.number}",
                          parties=[invoice.consumer_org_id, invoice.provider_org_id],
                          payload={"number": voucher.number, "invoice": invoice.number,
                                   "settlement": settlement.number,
                                   "agreement": agreement.number,
                                   "content_sha256": voucher.content_sha256})
    voucher.ledger_seq = event.seq
    session.flush()
    return voucher


def _plain(value: Any) -> Any:
    return json.loads(canonical_bytes(value))


def evidence(session: Session, voucher: Voucher, sth: TreeHead, key: PlatformKey
             ) -> dict[str, Any]:
    """Everything needed to check the voucher offline against a signed tree head."""
    c = voucher.content
    seqs = [c["agreement"]["ledger_seq"], c["invoice"]["ledger_seq"],
            c["settlement"]["ledger_seq"], voucher.ledger_seq]
    events = []
    for seq in seqs:
        e = browse.event(session, browse.Viewer(overseer=True), seq)
        assert e.opening is not None
        path = proofs.inclusion_proof(session, seq, sth.size)[2]
        events.append({**e.public(), "opening": e.opening.as_dict(),
                       "audit_path": [p.hex() for p in path]})
    return _plain({
        "format": "shugu-voucher-evidence/2",
        "voucher": c,
        "content_sha256": voucher.content_sha256,
        "events": events,
        "tree_head": {"size": sth.size, "root": sth.root, "timestamp": format_ts(sth.ts),
                      "signature": sth.signature, "key_id": sth.key_id,
                      "public_key": key.public_b64},
    })
