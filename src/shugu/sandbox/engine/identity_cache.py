"""A per-version copy of a product table with three extra columns derived from the identity:
`__shugu_m = 1 << (hash(identity) % 64)` (a bucket mask; 0 for a null identity),
`__shugu_b = hash(identity) % 4096` (a bucket number; null for a null identity) and
`__shugu_r`, the row's rank among its identity's rows in a random order fixed when the copy
is made (differential privacy keeps rows with rank <= L: the contribution bound).

A second kind of copy (`released`) holds only the rows of the cells that a restricted
aggregation rule may answer from (see gate/restricted.py).

Why: the threshold needs, per output group, a proof that it covers at least k distinct
identities. Reading and hashing a string identity column on every query costs more than
the consumer's whole aggregate; OR-ing a precomputed 64-bit mask costs about one more
numeric aggregate (bit_or of the mask for k <= 32, bitstring_agg of the bucket above).
The copy is made once per (table, Delta version, identity column) from
exactly that version's files, by our own SQL (no consumer input), and written atomically.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

import duckdb

from shugu.sandbox.gate.threshold import BUCKET_COLUMN, MASK_BUCKETS, MASK_COLUMN, RANK_COLUMN

MASK = MASK_COLUMN
BUCKET = BUCKET_COLUMN
RANK = RANK_COLUMN
BUCKETS = MASK_BUCKETS
LAYOUT = "m3"  # part of the cache key: bump when the added columns change


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def mask_sql(identity: str) -> str:
    col = _ident(identity)
    return (f"CASE WHEN {col} IS NULL THEN CAST(0 AS UBIGINT) ELSE "
            f"CAST(1 AS UBIGINT) << CAST(HASH({col}) % 64 AS UBIGINT) END AS {MASK}, "
            f"CASE WHEN {col} IS NULL THEN NULL ELSE "
            f"CAST(HASH({col}) % {BUCKETS} AS USMALLINT) END AS {BUCKET}, "
            f"ROW_NUMBER() OVER (PARTITION BY {col} ORDER BY {_SHUFFLE}) AS {RANK}")


_SHUFFLE = "__shugu_shuffle"


def prepared(cache_root: Path, key: str, identity: str, files: tuple[str, ...] = (),
             arrow: object | None = None, threads: int = 2) -> tuple[str, ...]:
    """The cached copy's files, built on first use."""
    return _cached(cache_root, f"{key}-{LAYOUT}", files, arrow, threads,
                   lambda source: f"SELECT * EXCLUDE ({_SHUFFLE}), {mask_sql(identity)} FROM "
                   f"(SELECT *, RANDOM() AS {_SHUFFLE} FROM {source})")


def released(cache_root: Path, key: str, identity: str, dimensions: Sequence[str], k: int,
             files: tuple[str, ...] = (), arrow: object | None = None,
             threads: int = 2) -> tuple[str, ...]:
    """Only the rows of cells (one combination of every dimension column's values) holding
    at least k distinct identities; rows with a null identity count for none."""
    col = _ident(identity)

    def build(source: str) -> str:
        if not dimensions:
            return (f"SELECT * FROM {source} WHERE "
                    f"(SELECT COUNT(DISTINCT {col}) FROM {source}) >= {int(k)}")
        dims = ", ".join(_ident(d) for d in dimensions)
        on = " AND ".join(f"s.{_ident(d)} IS NOT DISTINCT FROM c.{_ident(d)}"
                          for d in dimensions)
        return (f"WITH c AS (SELECT {dims} FROM {source} GROUP BY {dims} "
                f"HAVING COUNT(DISTINCT {col}) >= {int(k)}) "
                f"SELECT s.* FROM {source} AS s SEMI JOIN c ON {on}")

    return _cached(cache_root, f"{key}-cells-{LAYOUT}", files, arrow, threads, build)


def _cached(cache_root: Path, name: str, files: tuple[str, ...], arrow: object | None,
            threads: int, build: Callable[[str], str]) -> tuple[str, ...]:
    final = cache_root / name
    if (final / "_complete").exists():
        return tuple(sorted(str(p) for p in final.glob("*.parquet")))
    cache_root.mkdir(parents=True, exist_ok=True)
    work = cache_root / f".build-{uuid.uuid4().hex}"
    work.mkdir()
    try:
        con = duckdb.connect(config={"threads": threads})
        try:
            if arrow is not None:
                con.register("source", arrow)
                source = "source"
            else:
                source = f"read_parquet([{', '.join(_quote(f) for f in files)}], " \
                         "union_by_name = true)"
            con.execute(f"COPY ({build(source)}) TO "
                        f"{_quote(str(work / 'data.parquet'))} (FORMAT parquet)")
        finally:
            con.close()
        (work / "_complete").touch()
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(work, final)
        except OSError:
            if not (final / "_complete").exists():  # not a concurrent builder's copy
                raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return tuple(sorted(str(p) for p in final.glob("*.parquet")))
