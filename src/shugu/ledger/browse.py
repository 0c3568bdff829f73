"""Read-only browsing of the ledger for the auditor's portal: the same pages and filters
as GET /ledger/events, the distinct actions for a filter list, and one event with the
exact fields its leaf commits to."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu.errors import NotFound
from shugu.ledger import proofs
from shugu.ledger.events import format_ts
from shugu.ledger.models import LedgerEvent
from shugu.pagination import check_limit, decode_token, encode_token


@dataclass
class Event:
    seq: int
    ts: str  # as in the leaf: UTC YYYY-MM-DDTHH:MM:SS.ffffffZ
    actor: str
    action: str
    subject: str
    payload_json: str  # the stored canonical text its payload_sha256 is taken of
    payload_sha256: str
    leaf_hash: str

    @property
    def payload(self) -> Any:
        return json.loads(self.payload_json)


def _event(e: LedgerEvent) -> Event:
    return Event(seq=e.seq, ts=format_ts(e.ts), actor=e.actor, action=e.action,
                 subject=e.subject, payload_json=e.payload, payload_sha256=e.payload_hash,
                 leaf_hash=bytes(e.leaf_hash).hex())


def page(session: Session, *, action: str | None, subject: str | None, limit: int | None,
         page_token: str | None) -> tuple[list[Event], str | None, int | None]:
    """Events in sequence order (keyset pagination, as the API): items, next token, total."""
    limit, start = check_limit(limit), decode_token(page_token)
    query = select(LedgerEvent).where(LedgerEvent.seq >= start)
    if action:
        query = query.where(LedgerEvent.action == action)
    if subject:
        query = query.where(LedgerEvent.subject == subject)
    rows = session.scalars(query.order_by(LedgerEvent.seq).limit(limit + 1)).all()
    total = proofs.current_size(session) if not action and not subject else None
    more = len(rows) > limit
    return ([_event(e) for e in rows[:limit]],
            encode_token(rows[limit].seq) if more else None, total)


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(LedgerEvent.action).distinct()
                                .order_by(LedgerEvent.action)))


def event(session: Session, seq: int) -> Event:
    found = session.get(LedgerEvent, seq)
    if found is None:
        raise NotFound(f"no ledger event {seq}", code="event_not_found", seq=seq)
    return _event(found)
