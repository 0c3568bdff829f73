"""Ledger: the cost of appending, and verifying 1,000,000 events, each against a baseline.

    .venv/bin/python bench/ledger.py [--append 2000] [--events 1000000] [--pg URL] [--rebuild]

(a) Append: the same transactions run with `ledger.append` and with a baseline that inserts
    an equivalent plain row (same columns, no hashes, no head lock, no nodes), interleaved
    in rounds so that noise hits both; prints ms per event, the difference and the ratio.
    Target: the ledger adds < 1 ms per event. SQLite always; PostgreSQL with --pg (an admin
    URL; a scratch database is created and dropped).
(b) Verify: a SQLite ledger of --events events (built once under bench/out/ through a bulk
    path that uses the writer's own hashing and frontier code, continuing from a real
    first start, with tree heads signed by the real code), then `shugu ledger verify`'s
    work on the database and on an export file. Baseline: reading the same rows with
    sqlite3 and hashing the same number of bytes with hashlib (payload, leaf-sized input,
    one interior node per event), no checks. Target: < 30 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, create_engine, insert, text
from sqlalchemy.engine import make_url

from shugu.config import Settings
from shugu.db import UTCDateTime, utcnow
from shugu.jsoncanon import dumps
from shugu.ledger import service as ledger
from shugu.ledger import tree_heads
from shugu.ledger.events import commitment, format_ts, leaf_data_v2, public_subject
from shugu.ledger.export import export
from shugu.ledger.merkle import frontier_append, leaf_hash
from shugu.ledger.read_db import LedgerDatabase
from shugu.ledger.verify import verify, verify_file
from shugu.runtime import Exchange

CACHE = Path(__file__).parent / "out"  # git-ignored
BUILD_VERSION = 3  # bump when the generated ledger changes

ACTIONS = ["product.created", "revision.published", "listing.approved", "agreement.signed",
           "usage.recorded", "invoice.issued", "settlement.completed", "token.created"]

_plain = MetaData()
PLAIN = Table(
    "bench_plain_events", _plain,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ts", UTCDateTime(), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(100), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("payload", Text, nullable=False),
)
PLAIN_INSERT = insert(PLAIN)


def event_fields(i: int) -> tuple[str, str, str, dict[str, object]]:
    """A realistic event: who, what, on what, and a payload of about 150 bytes."""
    return (f"user:org{i % 89}-admin", ACTIONS[i % len(ACTIONS)], f"product:{i % 997}",
            {"product_id": i % 997, "revision": i % 13, "rows": i * 7 % 100_003,
             "bytes": i * 4096, "note": "企业月度用电量 revision", "org_id": i % 89})


# -- (a) append -----------------------------------------------------------------------------


def bench_append(ex: Exchange, n: int, per_tx: int, label: str) -> None:
    _plain.create_all(ex.engine)
    rounds = 5
    per_round = max(per_tx, n // rounds // per_tx * per_tx)

    def plain_tx(start: int) -> None:
        with ex.transaction() as s:
            for i in range(start, start + per_tx):
                actor, action, subject, payload = event_fields(i)
                # As lean as the append: a prepared Core insert on the session's connection.
                s.connection().execute(PLAIN_INSERT, {
                    "ts": utcnow(), "actor": actor, "action": action, "subject": subject,
                    "payload": dumps(payload)})

    def ledger_tx(start: int) -> None:
        with ex.transaction() as s:
            for i in range(start, start + per_tx):
                actor, action, subject, payload = event_fields(i)
                ledger.append(s, actor=actor, action=action, subject=subject, payload=payload)

    def timed(body: Callable[[int], None], start: int) -> float:
        began = time.perf_counter()
        for k in range(start, start + per_round, per_tx):
            body(k)
        return time.perf_counter() - began

    timed(plain_tx, 0)  # warm-up: caches, connection pool, first pages of both tables
    timed(ledger_tx, 0)
    plain_t: list[float] = []
    ledger_t: list[float] = []
    for r in range(rounds):
        plain_t.append(timed(plain_tx, (r + 1) * per_round))
        ledger_t.append(timed(ledger_tx, (r + 1) * per_round))
    p_ms = statistics.median(plain_t) / per_round * 1000
    l_ms = statistics.median(ledger_t) / per_round * 1000
    print(f"append, {label}, {per_tx} event(s) per transaction, {rounds} x {per_round} events "
          "(median round):")
    print(f"  baseline, plain row      {p_ms:8.3f} ms/event")
    print(f"  with the ledger append   {l_ms:8.3f} ms/event")
    print(f"  added by the ledger      {l_ms - p_ms:8.3f} ms/event   ratio {l_ms / p_ms:.2f}x"
          f"   (target < 1 ms: {'ok' if l_ms - p_ms < 1 else 'MISSED'})")


@contextmanager
def scratch_pg(admin_url: str) -> Iterator[str]:
    url = make_url(admin_url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"shugu_bench_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def run_append(n: int, pg: str | None) -> None:
    with tempfile.TemporaryDirectory(prefix="shugu-bench-") as tmp:
        ex = Exchange.open(Settings(data_dir=Path(tmp)))
        try:
            bench_append(ex, n, 1, "SQLite")
            bench_append(ex, n * 5, 100, "SQLite")
        finally:
            ex.close()
        if pg:
            with scratch_pg(pg) as url:
                ex = Exchange.open(Settings(data_dir=Path(tmp) / "pg", database_url=url))
                try:
                    bench_append(ex, n, 1, "PostgreSQL")
                    bench_append(ex, n * 5, 100, "PostgreSQL")
                finally:
                    ex.close()


# -- (b) a million events -------------------------------------------------------------------


def bulk_append(ex: Exchange, total: int, *, batch: int = 50_000,
                sign_every: int = 250_000) -> None:
    """Grow the ledger to `total` events as `ledger.append` would, but in bulk.

    Same leaf bytes (events.leaf_data_v2 over a salted commitment), same frontier and
    nodes (merkle.frontier_append),
    same stored forms (SQLAlchemy's SQLite text for timestamps, JSON for the frontier);
    only the per-event round trips and per-row type processing are gone, by handing
    sqlite3 plain tuples. Tree heads are signed by the real tree_heads code along the way.
    tests/ledger/test_bulk.py checks the result verifies and that `append` continues it.
    """
    assert ex.engine.dialect.name == "sqlite", "the bulk path writes SQLite's stored forms"
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    raw = ex.engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert isinstance(conn, sqlite3.Connection)
        while True:
            conn.execute("BEGIN IMMEDIATE")
            start, frontier_json = conn.execute(
                "SELECT size, frontier FROM ledger_head WHERE id = 1").fetchone()
            if start >= total:
                conn.execute("ROLLBACK")
                break
            end = min(total, start + batch)
            frontier = [bytes.fromhex(h) for h in json.loads(frontier_json)]
            rows: list[tuple[object, ...]] = []
            nodes: list[tuple[int, int, bytes]] = []
            for seq in range(start, end):
                actor, action, subject, payload = event_fields(seq)
                ts = format_ts(t0 + timedelta(milliseconds=seq * 37))
                body = dumps(payload)
                salt = f"{seq:032x}"  # deterministic here: the bench needs no secrecy
                shown = public_subject(subject)
                commit = commitment(actor, subject, body, salt)
                leaf = leaf_hash(leaf_data_v2(seq, ts, action, shown, commit))
                frontier, completed = frontier_append(frontier, seq, leaf)
                # SQLAlchemy keeps SQLite datetimes as 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC).
                rows.append((seq, f"{ts[:10]} {ts[11:26]}", actor, action, subject, shown,
                             body, salt, commit, leaf))
                nodes += completed
            conn.executemany("INSERT INTO ledger_events (seq, ts, actor, action, subject, "
                             "public_subject, payload, salt, commitment, leaf_hash) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.executemany("INSERT INTO ledger_nodes (level, idx, hash) VALUES (?, ?, ?)",
                             nodes)
            conn.execute("UPDATE ledger_head SET size = ?, frontier = ? WHERE id = 1",
                         (end, json.dumps([h.hex() for h in frontier])))
            conn.execute("COMMIT")
            if end // sign_every != start // sign_every or end == total:
                with ex.transaction() as s:
                    tree_heads.sign_current(s, ex.key)
            print(f"\r  appended {end:,} / {total:,}", end="", flush=True)
    finally:
        raw.close()
    print()


def ledger_dir(n: int, rebuild: bool) -> Path:
    path = CACHE / f"ledger-{n}-v{BUILD_VERSION}"
    if rebuild or not (path / "done").exists():
        shutil.rmtree(path, ignore_errors=True)
        print(f"building {path} …")
        began = time.perf_counter()
        ex = Exchange.open(Settings(data_dir=path))
        try:
            bulk_append(ex, n)
            with ex.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            ex.close()
        (path / "done").touch()
        print(f"  built in {time.perf_counter() - began:.0f} s")
    return path


def baseline_hashing(db_path: Path) -> tuple[float, float]:
    """(seconds reading the rows, seconds hashing them) with no checks at all."""
    sha256 = hashlib.sha256
    conn = sqlite3.connect(db_path.resolve().as_uri() + "?mode=ro", uri=True)
    cur = conn.execute("SELECT seq, ts, actor, action, subject, payload, salt, "
                       "leaf_hash FROM ledger_events ORDER BY seq")
    read = hashed = 0.0
    node_input = b"\x01" + b"\xab" * 64
    while True:
        began = time.perf_counter()
        rows = cur.fetchmany(100_000)
        read += time.perf_counter() - began
        if not rows:
            break
        began = time.perf_counter()
        for _seq, ts, actor, action, subject, payload, salt, _leaf in rows:
            commit = sha256(f"{actor}{payload}{salt}{subject}".encode()).hexdigest()
            sha256(f"\x00{ts}{action}{subject}{commit}".encode()).digest()
            sha256(node_input).digest()
        hashed += time.perf_counter() - began
    conn.close()
    return read, hashed


def run_verify(n: int, rebuild: bool) -> None:
    path = ledger_dir(n, rebuild)
    settings = Settings(data_dir=path)
    from shugu.ledger.read_db import load_public_key

    key = load_public_key(settings.keys_dir)
    url = settings.resolved_database_url()

    began = time.perf_counter()
    with LedgerDatabase(url) as db:
        report = verify(db.records(), public_key=key, nodes=db)
    t_db = time.perf_counter() - began
    assert report.ok and report.events == n, report.problem

    out = path / "export.jsonl"
    began = time.perf_counter()
    with LedgerDatabase(url) as db:
        export(db, out, public_key=key)
    t_export = time.perf_counter() - began

    began = time.perf_counter()
    file_report = verify_file(out)
    t_file = time.perf_counter() - began
    assert file_report.ok and file_report.root == report.root, file_report.problem
    size_mb = out.stat().st_size / 1e6
    out.unlink()

    t_read, t_hash = baseline_hashing(path / "shugu.db")
    base = t_read + t_hash
    print(f"verify, {n:,} events, {report.tree_heads} signed tree heads, {report.nodes:,} "
          "stored nodes:")
    print(f"  baseline: sqlite3 read {t_read:6.2f} s + hashlib over the same bytes "
          f"{t_hash:6.2f} s = {base:6.2f} s")
    for label, t in (("verify --data-dir (SQLite)", t_db), (f"verify FILE ({size_mb:.0f} MB)",
                                                               t_file)):
        print(f"  {label:28} {t:6.2f} s   {n / t / 1000:6.0f} k events/s   ratio to baseline "
              f"{t / base:.2f}x   (target < 30 s: {'ok' if t < 30 else 'MISSED'})")
    print(f"  {'export':28} {t_export:6.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--append", type=int, default=2000,
                        help="events per side for the 1-per-transaction append benchmark")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--pg", default=os.environ.get("SHUGU_BENCH_PG_URL"),
                        help="PostgreSQL admin URL for the append benchmark on PostgreSQL")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--skip-append", action="store_true")
    parser.add_argument("--skip-verify", action="store_true")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    if not args.skip_append:
        run_append(args.append, args.pg)
    if not args.skip_verify:
        run_verify(args.events, args.rebuild)
