"""A DuckDB connection that can read the given files and nothing else, and the relations a
review scans: a Delta table at a committed version, or a local CSV, Parquet or Delta path."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from deltalake import DeltaTable

from shugu.errors import InvalidInput


@dataclass(frozen=True)
class Relation:
    """What to scan: a SQL table expression over `files`, the only files it may open."""

    sql: str
    files: list[str]


def sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _file_list(files: list[str]) -> str:
    return "[" + ", ".join(sql_string(f) for f in files) + "]"


def delta_relation(table_dir: Path, version: int | None) -> Relation:
    """The Delta table's data files at `version` (latest if None), read as Parquet; partition
    values come back from the hive-style directory names delta-rs writes."""
    dt = DeltaTable(str(table_dir), version=version) if version is not None \
        else DeltaTable(str(table_dir))
    files = [u.removeprefix("file://") for u in dt.file_uris()]
    if not files:
        return Relation("(SELECT NULL AS _empty WHERE false)", [])
    partitioned = bool(dt.metadata().partition_columns)
    return Relation(f"read_parquet({_file_list(files)}, hive_partitioning = {partitioned})",
                    files)


def local_relation(path: Path) -> Relation:
    """A CSV, Parquet or Delta path on this machine, for `shugu scan`."""
    path = path.expanduser().resolve()
    if path.is_dir():
        if not (path / "_delta_log").is_dir():
            raise InvalidInput(f"{path} is a directory but not a Delta table",
                               code="unsupported_source")
        return delta_relation(path, None)
    if not path.is_file():
        raise InvalidInput(f"{path} does not exist", code="source_not_found")
    name = str(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return Relation(f"read_parquet({sql_string(name)})", [name])
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return Relation(f"read_csv({sql_string(name)}, all_varchar = true)", [name])
    raise InvalidInput(f"{path.name}: give a .csv, .parquet or Delta table directory",
                       code="unsupported_source")


def connect(files: list[str], threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory DuckDB that may open `files` only; its configuration is then locked."""
    con = duckdb.connect(":memory:")
    # Progress is polled by `run` for the CLI; DuckDB must not draw its own bar.
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if files:
        con.execute(f"SET allowed_paths = {_file_list(files)}")
    con.execute("SET enable_external_access = false")
    con.execute("SET autoinstall_known_extensions = false")
    con.execute("SET lock_configuration = true")
    return con


def columns(con: duckdb.DuckDBPyConnection, relation: Relation) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {relation.sql}").fetchall()]


def run(con: duckdb.DuckDBPyConnection, sql: str,
        progress: Callable[[float], None] | None = None) -> tuple[Any, ...]:
    """One row of `sql`; `progress(percent)` is called while it runs (from this thread)."""
    if progress is None:
        row = con.execute(sql).fetchone()
        assert row is not None
        return tuple(row)
    result: list[Any] = []
    failure: list[BaseException] = []

    def work() -> None:
        try:
            result.append(con.execute(sql).fetchone())
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.2)
        try:
            done = con.query_progress()
        except duckdb.Error:
            continue
        if done >= 0:
            progress(float(done))
    if failure:
        raise failure[0]
    progress(100.0)
    return tuple(result[0])


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start
