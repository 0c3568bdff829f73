"""ledger: commitments, public subjects and the parties of each event

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-03 14:00:00

Events written before this revision keep their leaves (version 1): those leaves are signed
into tree heads that participants may have kept, so rewriting them would look exactly like
the fork the ledger exists to expose. They get no commitment; what changes for them is
disclosure: their payload, actor and full subject are now served only to their parties and
overseers, like the new events'. Their parties are derived here, once, from what the
database says about their subject and payload (this code is frozen with the migration, on
purpose: it must not change when the domains do).
"""

import contextlib
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NUMERIC = re.compile(r"[0-9]+")
_BLINDED = {"product", "table"}

# The organisations a subject's first segment belongs to, by kind.
_OWNERS = {
    "product": "SELECT provider_org_id FROM products WHERE slug = :v",
    "offer": "SELECT provider_org_id, private_org_id FROM offers WHERE id = :n",
    "negotiation": "SELECT provider_org_id, consumer_org_id FROM negotiations WHERE id = :n",
    "agreement": "SELECT provider_org_id, consumer_org_id FROM agreements WHERE id = :n",
    "invoice": "SELECT provider_org_id, consumer_org_id FROM invoices WHERE number = :v",
    "voucher": "SELECT i.provider_org_id, i.consumer_org_id FROM vouchers v "
               "JOIN invoices i ON i.id = v.invoice_id WHERE v.number = :v",
    "entitlement": "SELECT consumer_org_id FROM entitlements WHERE id = :n",
    "sandbox_query": "SELECT consumer_org_id FROM sandbox_queries WHERE id = :n",
    "sandbox_review": "SELECT consumer_org_id FROM sandbox_reviews WHERE id = :n",
    "sandbox_private_table": "SELECT org_id FROM sandbox_private_tables WHERE id = :n",
    "registration": "SELECT applicant_org_id, counterparty_org_id FROM registrations "
                    "WHERE id = :n",
    "certificate": "SELECT holder_org_id FROM certificates WHERE number = :v",
    "user": "SELECT org_id FROM users WHERE id = :n",
    "token": "SELECT u.org_id FROM api_tokens t JOIN users u ON u.id = t.user_id "
             "WHERE t.id = :n",
    "org": "SELECT id FROM organizations WHERE id = :n",
}


def _public_subject(subject: str) -> str:
    out = []
    for segment in subject.split("/"):
        kind, sep, value = segment.partition(":")
        out.append(f"{kind}:~" if sep and kind in _BLINDED and not _NUMERIC.fullmatch(value)
                   else segment)
    return "/".join(out)


def _payload_orgs(value: Any, key: str = "") -> Iterator[int]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _payload_orgs(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _payload_orgs(v, key)
    elif (key == "org_id" or key.endswith("_org_id") or key.endswith("_org_ids")) \
            and isinstance(value, int) and not isinstance(value, bool):
        yield value


def _owners(conn: sa.Connection, subject: str) -> set[int]:
    kind, _, value = subject.split("/")[0].partition(":")
    sql = _OWNERS.get(kind)
    if sql is None or (":n" in sql and not _NUMERIC.fullmatch(value)):
        return set()
    try:
        with conn.begin_nested():
            row = conn.execute(sa.text(sql), {"n": int(value) if _NUMERIC.fullmatch(value)
                                              else None, "v": value}).first()
    except sa.exc.DBAPIError:  # a table a partial schema lacks: nothing to add
        return set()
    return {int(x) for x in row or () if x is not None}


def upgrade() -> None:
    with op.batch_alter_table('ledger_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('public_subject', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('salt', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('commitment', sa.String(length=64), nullable=True))
        batch_op.alter_column('payload_hash', existing_type=sa.String(length=64),
                              nullable=True)
    op.create_table(
        'ledger_event_parties',
        sa.Column('org_id', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('seq', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('org_id', 'seq', name=op.f('pk_ledger_event_parties')))

    conn = op.get_bind()
    users = dict(conn.execute(sa.text("SELECT username, org_id FROM users")).all())
    events = sa.table('ledger_events', sa.column('seq', sa.BigInteger),
                      sa.column('public_subject', sa.String))
    parties = sa.table('ledger_event_parties', sa.column('org_id', sa.BigInteger),
                       sa.column('seq', sa.BigInteger))
    owners: dict[str, set[int]] = {}
    last = -1
    while True:
        rows = conn.execute(sa.text(
            "SELECT seq, actor, subject, payload FROM ledger_events WHERE seq > :last "
            "ORDER BY seq LIMIT 5000"), {"last": last}).all()
        if not rows:
            break
        subjects, links = [], []
        for seq, actor, subject, payload in rows:
            orgs: set[int] = set()
            with contextlib.suppress(ValueError):
                orgs.update(_payload_orgs(json.loads(payload)))
            if actor.startswith("user:") and actor[5:] in users:
                orgs.add(int(users[actor[5:]]))
            head = subject.split("/")[0]
            if head not in owners:
                owners[head] = _owners(conn, subject)
            orgs |= owners[head]
            subjects.append({"s": seq, "p": _public_subject(subject)})
            links += [{"org_id": o, "seq": seq} for o in sorted(orgs)]
        conn.execute(events.update().where(events.c.seq == sa.bindparam("s"))
                     .values(public_subject=sa.bindparam("p")), subjects)
        if links:
            conn.execute(parties.insert(), links)
        last = rows[-1][0]

    with op.batch_alter_table('ledger_events', schema=None) as batch_op:
        batch_op.alter_column('public_subject', existing_type=sa.String(length=300),
                              nullable=False)
        batch_op.create_index(batch_op.f('ix_ledger_events_public_subject'),
                              ['public_subject'], unique=False)


def downgrade() -> None:
    op.drop_table('ledger_event_parties')
    with op.batch_alter_table('ledger_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_events_public_subject'))
        batch_op.drop_column('commitment')
        batch_op.drop_column('salt')
        batch_op.drop_column('public_subject')
        # payload_hash stays nullable: events appended since have none to restore.
