"""A per-version copy of a product table with two extra columns derived from the identity:
`__shugu_m = 1 << (hash(identity) % 64)` (a bucket mask; 0 for a null identity) and
`__shugu_b = hash(identity) % 4096` (a bucket number; null for a null identity).

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
from pathlib import Path

import duckdb

from shugu.sandbox.gate.threshold import BUCKET_COLUMN, MASK_BUCKETS, MASK_COLUMN

MASK = MASK_COLUMN
BUCKET = BUCKET_COLUMN
BUCKETS = MASK_BUCKETS
LAYOUT = "m2"  # part of the cache key: bump when the added columns change


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def mask_sql(identity: str) -> str:
    col = '"' + identity.replace('"', '""') + '"'
    return (f"CASE WHEN {col} IS NULL THEN CAST(0 AS UBIGINT) ELSE "
            f"CAST(1 AS UBIGINT) << CAST(HASH({col}) % 64 AS UBIGINT) END AS {MASK}, "
            f"CASE WHEN {col} IS NULL THEN NULL ELSE "
            f"CAST(HASH({col}) % {BUCKETS} AS USMALLINT) END AS {BUCKET}")


def prepared(cache_root: Path, key: str, identity: str, files: tuple[str, ...] = (),
             arrow: object | None = None, threads: int = 2) -> tuple[str, ...]:
    """The cached copy's files, built on first use."""
    final = cache_root / f"{key}-{LAYOUT}"
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
            con.execute(f"COPY (SELECT *, {mask_sql(identity)} FROM {source}) TO "
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
