"""A small signed ledger to attack, and the attacker's tool for a consistent rewrite."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from shugu.ledger import service as ledger
from shugu.ledger import tree_heads
from shugu.ledger.events import commitment, leaf_data_v2, public_subject
from shugu.ledger.merkle import frontier_append, leaf_hash
from shugu.ledger.models import LedgerEvent, LedgerHead, LedgerNode
from shugu.runtime import Exchange

SIGNED_AT = (4, 8, 12)


@pytest.fixture
def ledger_ex(exchange: Exchange) -> Exchange:
    with exchange.read() as s:
        start = s.get(LedgerHead, 1).size  # type: ignore[union-attr]
    assert start == 2
    for n in range(start, 12):
        with exchange.transaction() as s:
            ledger.append(s, actor=f"user:u{n}", action="thing.changed", subject=f"thing:{n}",
                          payload={"n": n, "note": "变更 \"引号\"", "nested": {"a": [1, 2]}})
            if n + 1 in SIGNED_AT:
                tree_heads.sign_current(s, exchange.key)
    return exchange


def rewrite_consistently(ex: Exchange) -> None:
    """What an attacker with database access but without the key would do after an edit:
    recompute every commitment, public subject, leaf, node and the head so that all of them
    agree."""
    with ex.transaction() as s:
        events = s.scalars(select(LedgerEvent).order_by(LedgerEvent.seq)).all()
        frontier: list[bytes] = []
        nodes: list[tuple[int, int, bytes]] = []
        for e in events:
            e.public_subject = public_subject(e.subject)
            e.commitment = commitment(e.actor, e.subject, e.payload, e.salt or "")
            e.leaf_hash = leaf_hash(leaf_data_v2(e.seq, e.ts, e.action, e.public_subject,
                                                 e.commitment))
            frontier, completed = frontier_append(frontier, e.seq, e.leaf_hash)
            nodes += completed
        s.execute(delete(LedgerNode))
        s.add_all(LedgerNode(level=lv, idx=i, hash=h) for lv, i, h in nodes)
        head = s.get(LedgerHead, 1)
        assert head is not None
        head.size, head.frontier = len(events), [h.hex() for h in frontier]
