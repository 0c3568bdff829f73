"""DuckDB in-process, hardened: a fresh in-memory connection per query whose only readable
files are the views' own; external access, extension loading and installing are off and
the configuration is locked before any consumer SQL runs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from shugu.errors import Unprocessable
from shugu.sandbox.engine.base import Answer, Limits, Source
from shugu.sandbox.gate.threshold import INTERNAL

# Errors raised before any data is read name only tables and columns; anything raised at
# run time (conversion, out of range, ...) may print a value, so its text is withheld.
_STATIC_ERRORS = (duckdb.BinderException, duckdb.ParserException, duckdb.CatalogException)


class EngineRefused(Unprocessable):
    code = "query_failed"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBSession:
    def __init__(self, conn: duckdb.DuckDBPyConnection, limits: Limits) -> None:
        self.conn = conn
        self.limits = limits
        self.timed_out = False

    def query(self, sql: str, max_rows: int | None = None) -> Answer:
        cap = self.limits.max_rows if max_rows is None else max_rows
        try:
            reader = self.conn.sql(sql).to_arrow_reader(min(cap + 1, 65_536))
            batches: list[pa.RecordBatch] = []
            rows = 0
            for batch in reader:
                batches.append(batch)
                rows += batch.num_rows
                if rows > cap:
                    break
            table = pa.Table.from_batches(batches, schema=reader.schema)
        except duckdb.InterruptException:
            raise EngineRefused(f"the query ran longer than {self.limits.timeout_seconds:g} s",
                                code="query_timeout") from None
        except duckdb.OutOfMemoryException:
            raise EngineRefused(f"the query needs more than {self.limits.memory_limit} of "
                                "memory", code="query_memory_exceeded") from None
        except _STATIC_ERRORS as exc:
            raise EngineRefused(f"the engine refused the query: {str(exc)[:500]}") from None
        except duckdb.Error:
            if self.timed_out:
                raise EngineRefused("the query ran longer than "
                                    f"{self.limits.timeout_seconds:g} s",
                                    code="query_timeout") from None
            raise EngineRefused("the query failed while running (details are withheld: they "
                                "could reveal values)") from None
        truncated = table.num_rows > cap
        if truncated:
            table = table.slice(0, cap)
        extra = {}
        for name in INTERNAL:
            if name in table.column_names:
                col = table.column(name)
                extra[name] = int(col[0].as_py() or 0) if table.num_rows else 0
                table = table.drop_columns([name])
        return Answer(table=table, truncated=truncated, extra=extra)


class DuckDBEngine:
    name = "duckdb"

    @contextmanager
    def session(self, sources: list[Source], limits: Limits) -> Iterator[DuckDBSession]:
        conn = duckdb.connect(":memory:", config={
            "threads": limits.threads, "memory_limit": limits.memory_limit,
            "autoinstall_known_extensions": False, "autoload_known_extensions": False})
        timer: threading.Timer | None = None
        try:
            files = [f for s in sources for f in s.files]
            try:
                if files:
                    conn.execute(f"SET allowed_paths = [{', '.join(_quote(f) for f in files)}]")
                for s in sources:
                    self._register(conn, s)
            except duckdb.Error:
                # Our own files (a disk fault, a damaged copy): nothing the consumer wrote.
                raise EngineRefused("the tables could not be opened; try again later or ask "
                                    "the operator") from None
            for statement in ("SET enable_progress_bar = false",
                              "SET enable_external_access = false",
                              "SET allow_community_extensions = false",
                              "SET lock_configuration = true"):
                conn.execute(statement)
            session = DuckDBSession(conn, limits)

            def interrupt() -> None:
                session.timed_out = True
                conn.interrupt()

            timer = threading.Timer(limits.timeout_seconds, interrupt)
            timer.daemon = True
            timer.start()
            yield session
        finally:
            if timer is not None:
                timer.cancel()
            conn.close()

    @staticmethod
    def _register(conn: duckdb.DuckDBPyConnection, s: Source) -> None:
        view = f'"{s.view}"'
        if s.arrow is not None:
            conn.register(f"{s.view}__arrow", s.arrow)
            conn.execute(f'CREATE VIEW {view} AS SELECT * FROM "{s.view}__arrow"')
        elif s.files:
            listing = ", ".join(_quote(f) for f in s.files)
            conn.execute(f"CREATE VIEW {view} AS SELECT * FROM read_parquet([{listing}], "
                         "union_by_name = true)")
        else:
            empty = (s.schema or pa.schema([])).empty_table()
            conn.register(f"{s.view}__arrow", empty)
            conn.execute(f'CREATE VIEW {view} AS SELECT * FROM "{s.view}__arrow"')
