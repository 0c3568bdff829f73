"""Streaming the ledger out of a database, for `shugu ledger verify --data-dir` and export.

This goes below SQLAlchemy on purpose: a million ORM objects cost more than the hashing,
and the verifier should not trust the application's model layer anyway. It opens the
DBAPI driver directly (sqlite3 read-only, or psycopg), reads everything inside one snapshot
(a read transaction in SQLite's WAL mode, REPEATABLE READ in PostgreSQL) so a server that
keeps appending meanwhile cannot make the views disagree, and streams rows in batches.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import make_url

from shugu.ledger.verify import CannotVerify, EventRow, Head, Record, SignedHead
from shugu.platform_key import KEY_FILE

BATCH = 10_000

_EVENTS = ("SELECT seq, {ts}, action, public_subject, commitment, leaf_hash, actor, subject, "
           "payload, salt, payload_hash FROM ledger_events ORDER BY seq")
_HEADS = "SELECT size, root, {ts}, signature, key_id FROM ledger_tree_heads ORDER BY size"
# The leaf's text form of a timestamp (UTC, microseconds, Z), made by the database: done in
# Python it costs as much as the rest of reading a row. SQLite holds what SQLAlchemy wrote,
# 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC; anything else is passed through untouched, so an
# edited value shows up as a leaf mismatch instead of being repaired here.
_TS_SQLITE = ("CASE WHEN typeof(ts) = 'text' AND length(ts) = 26 AND substr(ts, 11, 1) = ' ' "
              "THEN substr(ts, 1, 10) || 'T' || substr(ts, 12) || 'Z' ELSE ts END")
_TS_POSTGRES = """to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


class LedgerDatabase:
    """A read-only snapshot of one database's ledger tables."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.sqlite = parsed.get_backend_name() == "sqlite"
        self._conn: Any
        if self.sqlite:
            path = parsed.database
            if not path or path == ":memory:" or not Path(path).exists():
                raise CannotVerify(f"no SQLite database at {path!r}")
            uri = Path(path).resolve().as_uri() + "?mode=ro"
            try:
                conn = sqlite3.connect(uri, uri=True, isolation_level=None)
                conn.execute("BEGIN")  # one read snapshot for all queries below
            except sqlite3.Error as exc:
                raise CannotVerify(f"cannot open {path}: {exc}") from exc
            self._conn = conn
        else:
            import psycopg

            conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
            try:
                conn = psycopg.connect(conninfo)
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            except psycopg.Error as exc:
                raise CannotVerify(f"cannot connect to the database: {exc}") from exc
            self._conn = conn
        self._cursors = 0
        self._ts = _TS_SQLITE if self.sqlite else _TS_POSTGRES
        try:
            self.head = self._head()
        except Exception:
            self.close()
            raise

    # -- plumbing ---------------------------------------------------------------------------

    def _cursor(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """An iterable cursor; rows are never all in memory at once."""
        if self.sqlite:
            return self._conn.execute(sql, params)
        # A named cursor is server-side: rows arrive BATCH at a time.
        self._cursors += 1
        cur = self._conn.cursor(name=f"ledger_{self._cursors}")
        cur.itersize = BATCH
        cur.execute(sql.replace("?", "%s"), params)
        return cur

    def _head(self) -> Head:
        try:
            row = self._cursor("SELECT size, frontier FROM ledger_head WHERE id = 1").fetchone()
        except Exception as exc:
            raise CannotVerify(f"no ledger in this database ({exc})") from exc
        if row is None:
            return Head(size=0, frontier=[], source="ledger head row (missing)")
        size, frontier = row
        if isinstance(frontier, str):
            frontier = json.loads(frontier)
        return Head(size=int(size), frontier=frontier, source="ledger head row")

    def close(self) -> None:
        with contextlib.suppress(Exception):  # only reads happened; closing anyway
            if self.sqlite:
                self._conn.execute("ROLLBACK")
            else:
                self._conn.rollback()
        self._conn.close()

    def __enter__(self) -> LedgerDatabase:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- what the verifier and the exporter read ------------------------------------------

    def events(self) -> Iterable[EventRow]:
        """Event rows exactly as the verifier takes them: this is the whole hot path, so
        it is the driver's own cursor, with the timestamp put in text form by the database."""
        return self._cursor(_EVENTS.format(ts=self._ts))  # type: ignore[no-any-return]

    def tree_heads(self) -> Iterator[SignedHead]:
        for size, root, ts, signature, key_id in self._cursor(_HEADS.format(ts=self._ts)):
            yield SignedHead(size=int(size), root=root, timestamp=ts, signature=signature,
                             key_id=key_id)

    def records(self) -> Iterator[Record]:
        """Events with each signed tree head right after the event that completes its size,
        then the head row.

        Heads are placed by counting rows, not by trusting seq: wherever rows are missing or
        out of order, the verifier stops at the first event whose seq is not its position,
        which comes before any head that would be misplaced by the count.
        """
        events = iter(self.events())
        n = 0
        for sth in self.tree_heads():
            if sth.size > n:
                yield from islice(events, sth.size - n)
                n = sth.size
            yield sth
        yield from events
        yield self.head

    # NodeSource
    def levels(self) -> list[int]:
        return [int(r[0]) for r in self._cursor(
            "SELECT DISTINCT level FROM ledger_nodes ORDER BY level")]

    def scan(self, level: int) -> Iterable[tuple[int, bytes]]:
        return self._cursor(  # type: ignore[no-any-return]
            "SELECT idx, hash FROM ledger_nodes WHERE level = ? ORDER BY idx", (level,))


def load_public_key(keys_dir: Path) -> str | None:
    """The platform's public key (base64) from a data directory, without ever creating one."""
    path = keys_dir / KEY_FILE
    if not path.exists():
        return None
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise CannotVerify(f"{path} is not an Ed25519 key")
    raw = key.public_key().public_bytes(serialization.Encoding.Raw,
                                        serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()
