"""The benchmark's bulk builder writes what `ledger.append` writes (checked small, on SQLite)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from sqlalchemy import select

from shugu.config import Settings
from shugu.ledger import proofs
from shugu.ledger import service as ledger
from shugu.ledger.events import commitment, leaf_data_v2, public_subject
from shugu.ledger.merkle import leaf_hash
from shugu.ledger.models import LedgerEvent
from shugu.ledger.read_db import LedgerDatabase
from shugu.ledger.verify import verify
from shugu.runtime import Exchange
from tests.ledger import reference as ref


def bench_module() -> ModuleType:
    path = Path(__file__).parents[2] / "bench" / "ledger.py"
    spec = importlib.util.spec_from_file_location("bench_ledger", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bulk_ledger_is_an_ordinary_ledger(tmp_path: Path) -> None:
    ex = Exchange.open(Settings(data_dir=tmp_path))
    try:
        bench_module().bulk_append(ex, 300, batch=64, sign_every=100)
        # The ORM reads the bulk rows back as it reads appended ones, and they hash the same.
        with ex.read() as s:
            events = s.scalars(select(LedgerEvent).order_by(LedgerEvent.seq)).all()
            for e in events:
                assert e.public_subject == public_subject(e.subject)
                assert e.commitment == commitment(e.actor, e.subject, e.payload, e.salt or "")
            entries = tuple(leaf_data_v2(e.seq, e.ts, e.action, e.public_subject,
                                         e.commitment or "") for e in events)
            assert [leaf_hash(x) for x in entries] == [bytes(e.leaf_hash) for e in events]
            assert proofs.root(s, 300) == ref.mth(entries)
        # append carries on from the bulk head, nodes and all.
        with ex.transaction() as s:
            ledger.append(s, actor="user:x", action="after.bulk", subject="x", payload={})
        with LedgerDatabase(ex.settings.resolved_database_url()) as db:
            report = verify(db.records(), public_key=ex.key.public_b64, nodes=db)
        assert report.ok, report.problem
        assert (report.events, report.tree_heads) == (301, 3)
    finally:
        ex.close()
