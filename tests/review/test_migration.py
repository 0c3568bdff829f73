"""Migration 0006: products that were visible ("active") stay visible as "listed"."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from shugu.db import alembic_config, upgrade


def test_active_products_become_listed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(url), "0003")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO organizations (id, uscc, name, roles, is_platform, created_at) "
            "VALUES (1, 'x', 'x', '[]', 0, '2024-01-01')"))
        for i, status in enumerate(("active", "withdrawn"), start=1):
            conn.execute(text(
                "INSERT INTO products (id, slug, provider_org_id, title_zh, tags, status, "
                "created_at, updated_at) VALUES (:i, :s, 1, 't', '[]', :st, '2024-01-01', "
                "'2024-01-01')"), {"i": i, "s": f"p{i}", "st": status})
    upgrade(url)
    with engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT slug, status FROM products")).all())
    engine.dispose()
    assert rows == {"p1": "listed", "p2": "withdrawn"}
