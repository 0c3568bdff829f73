"""Appending to the ledger, inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu.db import utcnow
from shugu.jsoncanon import dumps
from shugu.ledger.events import leaf_data, payload_hash
from shugu.ledger.merkle import frontier_append, leaf_hash
from shugu.ledger.models import LedgerEvent, LedgerHead, LedgerNode


def append(
    session: Session, *, actor: str, action: str, subject: str, payload: dict[str, Any]
) -> LedgerEvent:
    """Append one event. Call it in the same transaction as the state change it records."""
    head = session.execute(
        select(LedgerHead).where(LedgerHead.id == 1).with_for_update()
    ).scalar_one()
    seq = head.size
    ts = utcnow()
    body = dumps(payload)
    p_hash = payload_hash(body)
    leaf = leaf_hash(leaf_data(seq, ts, actor, action, subject, p_hash))
    frontier = [bytes.fromhex(h) for h in head.frontier]
    frontier, completed = frontier_append(frontier, seq, leaf)
    event = LedgerEvent(
        seq=seq, ts=ts, actor=actor, action=action, subject=subject,
        payload=body, payload_hash=p_hash, leaf_hash=leaf,
    )
    session.add(event)
    for level, idx, h in completed:
        session.add(LedgerNode(level=level, idx=idx, hash=h))
    head.size = seq + 1
    head.frontier = [h.hex() for h in frontier]
    session.flush()
    return event
