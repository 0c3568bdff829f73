"""Appending to the ledger, inside the caller's transaction."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from shugu.db import utcnow
from shugu.jsoncanon import dumps
from shugu.ledger.events import commitment, leaf_data_v2, new_salt, public_subject
from shugu.ledger.merkle import frontier_append, leaf_hash
from shugu.ledger.models import LedgerEvent, LedgerHead, LedgerNode, LedgerParty

_EVENTS = LedgerEvent.__table__
_NODES = LedgerNode.__table__
_HEAD = LedgerHead.__table__
_PARTIES = LedgerParty.__table__
# Built once: constructing statements is a good part of an append's Python cost.
_READ_HEAD = select(_HEAD.c.size, _HEAD.c.frontier).where(_HEAD.c.id == 1)
_LOCK_HEAD = _READ_HEAD.with_for_update()
_INSERT_EVENT = insert(_EVENTS)
_INSERT_NODES = insert(_NODES)
_INSERT_PARTIES = insert(_PARTIES)
_UPDATE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(
    size=bindparam("new_size"), frontier=bindparam("new_frontier", type_=_HEAD.c.frontier.type))

# PostgreSQL only. A fixed text (node rows arrive as arrays through unnest) so that psycopg
# can prepare it once and SQLAlchemy never recompiles it.
_PG_WRITE = """
WITH new_event AS (
  INSERT INTO ledger_events (seq, ts, actor, action, subject, public_subject, payload,
                             payload_hash, salt, commitment, leaf_hash)
  VALUES (%(seq)s, %(ts)s, %(actor)s, %(action)s, %(subject)s, %(public_subject)s,
          %(payload)s, %(payload_hash)s, %(salt)s, %(commitment)s, %(leaf_hash)s)
), new_nodes AS (
  INSERT INTO ledger_nodes (level, idx, hash)
  SELECT * FROM unnest(%(levels)s::integer[], %(idxs)s::bigint[], %(hashes)s::bytea[])
), new_parties AS (
  INSERT INTO ledger_event_parties (org_id, seq)
  SELECT org, %(seq)s FROM unnest(%(orgs)s::bigint[]) AS org
)
UPDATE ledger_head SET size = %(size)s, frontier = %(frontier)s::json WHERE id = 1
"""


def head_state(session: Session, *, lock: bool = False) -> tuple[int, list[str]]:
    """(size, frontier as hex) of the ledger head, read from the database, never from the
    session's identity map (appends change the row with Core statements)."""
    size, frontier = session.connection().execute(_LOCK_HEAD if lock else _READ_HEAD).one()
    return int(size), list(frontier)


def payload_orgs(value: Any, key: str = "") -> Iterator[int]:
    """Organisation ids named anywhere in a payload, under a key `org_id`, `*_org_id` or
    `*_org_ids` (the convention every domain's payloads follow)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from payload_orgs(v, k)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from payload_orgs(v, key)
    elif (key == "org_id" or key.endswith("_org_id") or key.endswith("_org_ids")) \
            and isinstance(value, int) and not isinstance(value, bool):
        yield value


def parties_of(subject: str, payload: dict[str, Any],
               parties: Iterable[int | None] = ()) -> list[int]:
    """Who an event concerns: the organisations the caller names, those its payload names
    and `org:N` when the subject is an organisation."""
    orgs = {int(p) for p in parties if p is not None}
    orgs.update(payload_orgs(payload))
    kind, _, value = subject.partition(":")
    if kind == "org" and value.isdigit():
        orgs.add(int(value))
    return sorted(orgs)


def append(
    session: Session, *, actor: str, action: str, subject: str, payload: dict[str, Any],
    parties: Iterable[int | None] = (),
) -> LedgerEvent:
    """Append one event. Call it in the same transaction as the state change it records.

    The public sees the action, time, public subject and a salted commitment to actor,
    subject and payload; the parties (`parties_of`: those named here, in the payload or
    by an `org:N` subject) and overseers see the rest. Name in `parties` every
    organisation the event concerns that the payload does not name (say, the acting
    organisation, or both sides of a negotiation).

    Locking the head row serialises appenders into one total order (on SQLite the writer
    transaction already holds the database lock). The rows are written with Core
    statements rather than through the ORM unit of work: that halves the cost of an append,
    which every state change in the exchange pays. Returns the event as written (a detached
    object, not part of the session).
    """
    conn = session.connection()
    seq, frontier_hex = head_state(session, lock=True)
    ts = utcnow()
    body = dumps(payload)
    salt = new_salt()
    shown = public_subject(subject)
    commit = commitment(actor, subject, body, salt)
    leaf = leaf_hash(leaf_data_v2(seq, ts, action, shown, commit))
    frontier, completed = frontier_append([bytes.fromhex(h) for h in frontier_hex], seq, leaf)
    row = {"seq": seq, "ts": ts, "actor": actor, "action": action, "subject": subject,
           "public_subject": shown, "payload": body, "payload_hash": None, "salt": salt,
           "commitment": commit, "leaf_hash": leaf}
    orgs = parties_of(subject, payload, parties)
    nodes = [{"level": lv, "idx": i, "hash": h} for lv, i, h in completed]
    new_head = {"new_size": seq + 1, "new_frontier": [h.hex() for h in frontier]}
    if conn.dialect.name == "postgresql":
        # One round trip instead of three: the inserts ride along as data-modifying CTEs.
        conn.exec_driver_sql(_PG_WRITE, {
            **row, "levels": [n["level"] for n in nodes], "idxs": [n["idx"] for n in nodes],
            "hashes": [n["hash"] for n in nodes], "size": seq + 1, "orgs": orgs,
            "frontier": json.dumps(new_head["new_frontier"])})
    else:
        conn.execute(_INSERT_EVENT, row)
        if nodes:
            conn.execute(_INSERT_NODES, nodes)
        if orgs:
            conn.execute(_INSERT_PARTIES, [{"org_id": o, "seq": seq} for o in orgs])
        conn.execute(_UPDATE_HEAD, new_head)
    return LedgerEvent(**row)
