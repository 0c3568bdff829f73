"""REST endpoints of the ledger.

Who may read: any authenticated principal, whatever its organisation's roles (auditors
included). The ledger is the exchange's public audit log: every participant must be able
to check that what happened to them is recorded and that the log never forks, so nothing
here is filtered by organisation. Consequently nothing secret may go into an event's
payload (services put identifiers and decisions there, never credentials or data rows).
Anonymous callers get 401, as everywhere in the API.
"""

from __future__ import annotations

import json

from fastapi import APIRouter
from sqlalchemy import select

from shugu.api.deps import ExchangeDep, PrincipalDep
from shugu.api.limits import Limit, PageToken, QueryText, Seq, TreeSize, TreeSizeRequired
from shugu.errors import NotFound
from shugu.ledger import proofs, schemas, tree_heads
from shugu.ledger.models import LedgerEvent
from shugu.pagination import Page, check_limit, decode_token, encode_token

router = APIRouter(prefix="/ledger", tags=["ledger"])


def _event_out(e: LedgerEvent) -> schemas.EventOut:
    return schemas.EventOut(seq=e.seq, ts=e.ts, actor=e.actor, action=e.action,
                            subject=e.subject, payload=json.loads(e.payload),
                            payload_sha256=e.payload_hash, leaf_hash=bytes(e.leaf_hash).hex())


@router.get("/tree-head", response_model=schemas.SignedTreeHead)
def tree_head(ex: ExchangeDep, who: PrincipalDep) -> schemas.SignedTreeHead:
    """The signed tree head for the ledger's current size (signed now if not yet)."""
    return tree_heads.to_schema(tree_heads.current_signed(ex), ex.key)


@router.get("/public-key", response_model=schemas.PublicKey)
def public_key(ex: ExchangeDep, who: PrincipalDep) -> schemas.PublicKey:
    return schemas.PublicKey(key_id=ex.key.key_id, public_key=ex.key.public_b64)


@router.get("/events", response_model=Page[schemas.EventOut])
def list_events(
    ex: ExchangeDep, who: PrincipalDep, action: QueryText = None, subject: QueryText = None,
    limit: Limit = None, page_token: PageToken = None,
) -> Page[schemas.EventOut]:
    """Events in sequence order. The page token carries the next seq to read (keyset
    pagination), so deep pages cost no more than the first."""
    limit, start = check_limit(limit), decode_token(page_token)
    query = select(LedgerEvent).where(LedgerEvent.seq >= start)
    if action is not None:
        query = query.where(LedgerEvent.action == action)
    if subject is not None:
        query = query.where(LedgerEvent.subject == subject)
    with ex.read() as s:
        rows = s.scalars(query.order_by(LedgerEvent.seq).limit(limit + 1)).all()
        # Without filters the total is the head's size, which costs nothing to read.
        total = proofs.current_size(s) if action is None and subject is None else None
    more = len(rows) > limit
    return Page[schemas.EventOut](
        items=[_event_out(e) for e in rows[:limit]],
        next_page_token=encode_token(rows[limit].seq) if more else None, total=total)


@router.get("/events/{seq}", response_model=schemas.EventOut)
def get_event(seq: Seq, ex: ExchangeDep, who: PrincipalDep) -> schemas.EventOut:
    with ex.read() as s:
        event = s.get(LedgerEvent, seq)
        if event is None:
            raise NotFound(f"no ledger event {seq}", code="event_not_found", seq=seq)
        return _event_out(event)


@router.get("/events/{seq}/inclusion", response_model=schemas.InclusionProof)
def inclusion(
    seq: Seq, ex: ExchangeDep, who: PrincipalDep,
    tree_size: TreeSize = None,
) -> schemas.InclusionProof:
    with ex.read() as s:
        size, leaf, path, root = proofs.inclusion_proof(s, seq, tree_size)
    return schemas.InclusionProof(seq=seq, tree_size=size, leaf_hash=leaf.hex(),
                                  audit_path=[h.hex() for h in path], root=root.hex())


@router.get("/consistency", response_model=schemas.ConsistencyProof)
def consistency(
    ex: ExchangeDep, who: PrincipalDep, first: TreeSizeRequired,
    second: TreeSize = None,
) -> schemas.ConsistencyProof:
    with ex.read() as s:
        second = proofs.current_size(s) if second is None else second
        first_root, second_root, proof = proofs.consistency_proof(s, first, second)
    return schemas.ConsistencyProof(first=first, second=second, first_root=first_root.hex(),
                                    second_root=second_root.hex(),
                                    proof=[h.hex() for h in proof])
