"""Signed tree heads: the platform key's commitment to the ledger's first `size` events.

The signed bytes are `events.sth_message(size, root, timestamp)`. An STH is made at most once
per size (the table's key), so asking again for an unchanged ledger returns the same one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from shugu.db import utcnow
from shugu.ledger.events import sth_message
from shugu.ledger.merkle import frontier_root
from shugu.ledger.models import TreeHead
from shugu.ledger.schemas import SignedTreeHead
from shugu.ledger.service import head_state
from shugu.platform_key import PlatformKey

if TYPE_CHECKING:
    from shugu.runtime import Exchange


def sign_current(session: Session, key: PlatformKey) -> TreeHead:
    """The STH for the ledger's current size, signing one if none exists yet.

    Call inside a write transaction: the head row is locked, as appenders lock it, so the
    size and root cannot move between reading and signing, and two signers cannot race for
    the same size.
    """
    size, frontier = head_state(session, lock=True)
    existing = session.get(TreeHead, size)
    if existing is not None:
        return existing
    # The head's frontier holds the roots of the perfect subtrees, so no leaf is read here.
    root = frontier_root([bytes.fromhex(h) for h in frontier]).hex()
    ts = utcnow()
    sth = TreeHead(size=size, root=root, ts=ts, key_id=key.key_id,
                   signature=key.sign(sth_message(size, root, ts)))
    session.add(sth)
    session.flush()
    return sth


def current_signed(exchange: Exchange) -> TreeHead:
    """The STH for the ledger's current size, signed now if not yet. Only signing takes the
    write lock: an unchanged ledger reuses its STH."""
    with exchange.read() as s:
        sth = for_current_size(s)
    if sth is not None:
        return sth
    with exchange.transaction() as s:
        return sign_current(s, exchange.key)


def for_current_size(session: Session) -> TreeHead | None:
    """The STH for the current size, if one has been signed (read-only)."""
    return session.get(TreeHead, head_state(session)[0])


def latest(session: Session) -> TreeHead | None:
    return session.scalars(select(TreeHead).order_by(TreeHead.size.desc()).limit(1)).first()


def to_schema(sth: TreeHead, key: PlatformKey) -> SignedTreeHead:
    return SignedTreeHead(size=sth.size, root=sth.root, timestamp=sth.ts,
                          signature=sth.signature, key_id=sth.key_id,
                          public_key=key.public_b64)
