"""Migration 0012: existing agreement entitlements take their agreement's plan and price
(which decide precedence); direct grants keep none. On SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shugu.db import alembic_config, upgrade
from tests.conftest import PG_URL, db_url_normalise


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
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
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_agreement_entitlements_get_their_plan_and_price(empty_url: str) -> None:
    command.upgrade(alembic_config(empty_url), "0009")
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # Only the two tables the migration reads matter here.
            conn.execute(text("SET session_replication_role = replica"))
        for eid, source in ((1, "agreement"), (2, "direct"), (3, "agreement")):
            conn.execute(text(
                "INSERT INTO entitlements (id, consumer_org_id, product_id, modes, valid_from, "
                "used_queries, used_rows, used_bytes, used_downloads, source, agreement_id, "
                "created_at) VALUES (:i, 1, 1, '[\"share\"]', '2026-01-01', 0, 0, 0, 0, :s, "
                ":a, '2026-01-01')"), {"i": eid, "s": source,
                                       "a": eid if source == "agreement" else None})
        for aid, plan, price in ((1, "per_query", 500), (3, "subscription", 10000)):
            conn.execute(text(
                "INSERT INTO agreements (id, number, negotiation_id, offer_id, product_id, "
                "provider_org_id, consumer_org_id, plan, price_fen, terms, terms_hash, "
                "valid_from, status, created_at, entitlement_id) VALUES (:i, :n, :i, 1, 1, "
                "2, 1, :p, :f, '{}', '', '2026-01-01', 'active', '2026-01-01', :i)"),
                {"i": aid, "n": f"SG-AGR-2026-{aid:06d}", "p": plan, "f": price})
    upgrade(empty_url)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, plan, unit_price_fen FROM entitlements ORDER BY id")).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [(1, "per_query", 500), (2, None, None),
                                        (3, "subscription", 10000)]
