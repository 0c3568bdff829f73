"""Migration 0011: events written before commitments keep their signed leaves (version 1),
get their parties and public subjects, and are hidden from everyone else like new ones."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.orm import Session

from shugu import db
from shugu.db import alembic_config, upgrade
from shugu.jsoncanon import dumps
from shugu.ledger import browse, tree_heads
from shugu.ledger import service as ledger
from shugu.ledger.events import leaf_data, payload_hash
from shugu.ledger.export import export
from shugu.ledger.merkle import frontier_append, leaf_hash
from shugu.ledger.read_db import LedgerDatabase
from shugu.ledger.verify import verify, verify_file
from shugu.platform_key import PlatformKey
from tests.conftest import PG_URL, db_url_normalise

OLD_EVENTS = [  # actor, action, subject, payload
    ("system", "organization.created", "org:1", {"id": 1, "name": "provider"}),
    ("user:u1", "product.created", "product:draft-x", {"slug": "draft-x", "title_zh": "草稿"}),
    ("user:u2", "negotiation.requested", "negotiation:7",
     {"negotiation_id": 7, "terms": {"price_fen": 5}}),
    ("system", "invoice.issued", "invoice:INV-1",
     {"consumer_org_id": 2, "provider_org_id": 1, "total_fen": 5}),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def old_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    admin_url = make_url(db_url_normalise(PG_URL))
    name = f"shugu_mig_{secrets.token_hex(4)}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield admin_url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = :n"), {"n": name})
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _old_ledger(url: str, key: PlatformKey) -> None:
    """A ledger as the code before 0011 wrote it (SQLite keeps SQLAlchemy's text form of a
    UTC time), with a tree head signed over it."""
    command.upgrade(alembic_config(url), "0009")
    engine = create_engine(url)
    frontier: list[bytes] = []
    with engine.begin() as conn:
        for i, name in ((1, "provider"), (2, "consumer"), (3, "other")):
            conn.execute(text(
                "INSERT INTO organizations (id, uscc, name, roles, is_platform, created_at) "
                "VALUES (:i, :u, :n, '[]', false, '2024-01-01')"),
                {"i": i, "u": f"u{i}", "n": name})
        for i in (1, 2):
            conn.execute(text(
                "INSERT INTO users (id, org_id, username, is_admin, is_active, created_at) "
                "VALUES (:i, :i, :u, false, true, '2024-01-01')"), {"i": i, "u": f"u{i}"})
        conn.execute(text(
            "INSERT INTO products (id, slug, provider_org_id, title_zh, tags, status, "
            "created_at, updated_at, sample_rows) VALUES (1, 'draft-x', 1, 't', '[]', 'draft', "
            "'2024-01-01', '2024-01-01', 0)"))
        ts = datetime(2025, 1, 1, tzinfo=UTC)
        for seq, (actor, action, subject, payload) in enumerate(OLD_EVENTS):
            body = dumps(payload)
            p_hash = payload_hash(body)
            leaf = leaf_hash(leaf_data(seq, ts, actor, action, subject, p_hash))
            frontier, nodes = frontier_append(frontier, seq, leaf)
            conn.execute(text(
                "INSERT INTO ledger_events (seq, ts, actor, action, subject, payload, "
                "payload_hash, leaf_hash) VALUES (:s, :ts, :a, :ac, :su, :p, :h, :l)"),
                {"s": seq, "ts": ts if not url.startswith("sqlite")
                 else "2025-01-01 00:00:00.000000", "a": actor, "ac": action,
                 "su": subject, "p": body, "h": p_hash, "l": leaf})
            for level, idx, h in nodes:
                conn.execute(text("INSERT INTO ledger_nodes (level, idx, hash) "
                                  "VALUES (:l, :i, :h)"), {"l": level, "i": idx, "h": h})
        conn.execute(text("INSERT INTO ledger_head (id, size, frontier) VALUES (1, :n, :f)"),
                     {"n": len(OLD_EVENTS), "f": json.dumps([h.hex() for h in frontier])})
    engine.dispose()
    _sign(url, key)


def _sign(url: str, key: PlatformKey) -> None:
    engine = db.make_engine(url)
    with db.transaction(db.make_sessionmaker(db.writer(engine))) as session:
        tree_heads.sign_current(session, key)
    engine.dispose()


def test_old_events_keep_their_leaves_and_get_parties(old_url: str, tmp_path: Path) -> None:
    key = PlatformKey.load_or_create(tmp_path / "keys")
    _old_ledger(old_url, key)
    upgrade(old_url)
    engine = create_engine(old_url)
    with engine.connect() as conn:
        parties: dict[int, set[int]] = {}
        for org, seq in conn.execute(text("SELECT org_id, seq FROM ledger_event_parties")):
            parties.setdefault(seq, set()).add(org)
        shown = dict(conn.execute(text("SELECT seq, public_subject FROM ledger_events")).all())
    assert parties == {0: {1}, 1: {1}, 2: {2}, 3: {1, 2}}
    assert shown == {0: "org:1", 1: "product:~", 2: "negotiation:7", 3: "invoice:INV-1"}

    # The signed leaves still verify, from the database and from a public export.
    with LedgerDatabase(old_url) as data:
        report = verify(data.records(), public_key=key.public_b64, nodes=data,
                        require_signed=True)
    assert report.ok, report.problem
    # New events go on as version 2, after the old ones, in the same tree.
    maker = db.make_sessionmaker(db.writer(engine))
    with db.transaction(maker) as session:
        ledger.append(session, actor="user:u1", action="product.updated",
                      subject="product:draft-x", payload={"slug": "draft-x"}, parties=[1])
    _sign(old_url, key)
    for full in (False, True):
        path = tmp_path / f"export-{full}.jsonl"
        with LedgerDatabase(old_url) as data:
            export(data, path, public_key=key.public_b64, full=full)
        report = verify_file(path, public_key=key.public_b64)
        assert report.ok and report.events == 5, report.problem
        text_ = path.read_text("utf-8")
        assert ("草稿" in text_) is full and ("user:u2" in text_) is full
    # Disclosure of an old event: its parties and overseers only.
    with Session(engine) as session:
        assert browse.event(session, browse.Viewer(org_id=3), 1).opening is None
        assert browse.event(session, browse.ANONYMOUS, 2).opening is None
        opened = browse.event(session, browse.Viewer(org_id=1), 1)
        assert opened.opening is not None and opened.version == 1
        assert opened.opening.payload_sha256 == payload_hash(opened.opening.payload_json)
        assert browse.event(session, browse.Viewer(overseer=True), 2).opening is not None
        assert browse.event(session, browse.Viewer(org_id=1), 4).version == 2
    engine.dispose()
