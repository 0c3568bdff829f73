"""Quality report of one table on the GB/T 36344-2018 dimensions, with the numbers behind
each score (docs/review.md gives the formulas).

completeness  non-null share per column; score = 100 × mean over columns
uniqueness    distinct rows / rows, and the distinct share of key-like columns;
              score = 100 × mean of those shares
validity      per column, values that are well-formed for their type (finite numbers, dates
              in 1900..now, non-blank text without U+FFFD; text that is ≥ 90 % numbers or
              dates must parse as such); score = 100 × valid / non-null, over all columns
timeliness    age of the latest commit against the product's update frequency: 100 within
              one period, falling linearly to 0 at three periods; not assessed without one
consistency   per text column, the share of a sample holding the column's most common format
              (digits, Latin and Han runs collapsed); start ≤ end for date pairs; score =
              100 × mean of those shares
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from shugu.review.engine import Relation, columns, connect, ident, run

PERIODS = {"realtime": timedelta(hours=1), "hourly": timedelta(hours=1),
           "daily": timedelta(days=1), "weekly": timedelta(days=7),
           "monthly": timedelta(days=31), "quarterly": timedelta(days=92),
           "yearly": timedelta(days=366)}
KEY_NAMES = re.compile(r"(^id$|_id$|^id_|uuid|编号|代码|^code$|_code$|_no$|^no$|号码$)",
                       re.IGNORECASE)
START_NAMES = re.compile(r"(start|begin|from|开始|起)", re.IGNORECASE)
END_NAMES = re.compile(r"(end|finish|until|to$|结束|止)", re.IGNORECASE)
TYPED_TEXT_SHARE = 0.9
SAMPLE_ROWS = 100_000
FLOAT_TYPES = ("FLOAT", "DOUBLE")
TIME_TYPES = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS",
              "TIMESTAMP_S")


def _shape(col: str) -> str:
    runs = f"regexp_replace({col}, '[0-9]+', '9', 'g')"
    runs = f"regexp_replace({runs}, '[A-Za-z]+', 'a', 'g')"
    return f"regexp_replace({runs}, '[一-龥]+', '汉', 'g')"


def _column_aggregates(name: str, t: str) -> list[str]:
    col = ident(name)
    aggs = [f"count({col})", f"approx_count_distinct({col})"]
    if t in FLOAT_TYPES:
        aggs.append(f"count(*) FILTER (WHERE isfinite({col}))")
    elif t in TIME_TYPES:
        aggs.append(f"count(*) FILTER (WHERE {col} >= DATE '1900-01-01' "
                    f"AND {col} <= current_date + INTERVAL 1 DAY)")
    elif t == "VARCHAR":
        aggs += [f"count(*) FILTER (WHERE trim({col}) <> '' AND NOT contains({col}, '\ufffd'))",
                 f"count(TRY_CAST({col} AS DOUBLE))", f"count(TRY_CAST({col} AS DATE))"]
    else:
        aggs.append(f"count({col})")
    return aggs


def assess(relation: Relation, *, update_frequency: str | None,
           last_commit_at: datetime | None, now: datetime,
           threads: int | None = None) -> dict[str, Any]:
    con = connect(relation.files, threads)
    try:
        cols = columns(con, relation)
        aggs = ["count(*)"]
        for name, t in cols:
            aggs += _column_aggregates(name, t)
        if cols:
            aggs.append(f"count(DISTINCT hash({', '.join(ident(n) for n, _ in cols)}))")
        values = iter(run(con, f"SELECT {', '.join(aggs)} FROM {relation.sql}"))
        rows = int(next(values))
        per_column: dict[str, dict[str, Any]] = {}
        for name, t in cols:
            non_null, distinct, valid = int(next(values)), int(next(values)), int(next(values))
            entry: dict[str, Any] = {"type": t, "non_null": non_null,
                                     "completeness": _share(non_null, rows),
                                     "distinct_approx": distinct,
                                     "key_like": bool(KEY_NAMES.search(name))}
            if t == "VARCHAR":
                numbers, dates = int(next(values)), int(next(values))
                for kind, ok in (("number", numbers), ("date", dates)):
                    if non_null and ok / non_null >= TYPED_TEXT_SHARE:
                        entry["typed_as"] = kind
                        valid = min(valid, ok)
                        break
            entry["valid"] = valid
            per_column[name] = entry
        distinct_rows = int(next(values)) if cols else rows
        formats = _formats(con, relation, cols) if rows else {}
        pairs = _date_pairs(con, relation, cols) if rows else {}
    finally:
        con.close()
    for name, share in formats.items():
        per_column[name]["format_share"] = share
    return _scores(rows, per_column, distinct_rows, formats, pairs, update_frequency,
                   last_commit_at, now)


def _formats(con: Any, relation: Relation, cols: list[tuple[str, str]]) -> dict[str, float]:
    text = [n for n, t in cols if t == "VARCHAR"]
    if not text:
        return {}
    picked = ", ".join(ident(n) for n in text)
    con.execute(f"CREATE TEMP TABLE sample AS SELECT {picked} FROM {relation.sql} "
                f"USING SAMPLE reservoir({SAMPLE_ROWS} ROWS) REPEATABLE (36344)")
    shares: dict[str, float] = {}
    for name in text:
        top, total = con.execute(
            f"SELECT max(c), sum(c) FROM (SELECT count(*) AS c FROM sample "
            f"WHERE {ident(name)} IS NOT NULL GROUP BY {_shape(ident(name))})").fetchone()
        if total:
            shares[name] = round(int(top) / int(total), 4)
    return shares


def _date_pairs(con: Any, relation: Relation, cols: list[tuple[str, str]]) -> dict[str, float]:
    times = [n for n, t in cols if t in TIME_TYPES]
    starts = [n for n in times if START_NAMES.search(n)]
    ends = [n for n in times if END_NAMES.search(n)]
    found: dict[str, float] = {}
    for s in starts:
        for e in ends:
            if s == e:
                continue
            ok, both = con.execute(
                f"SELECT count(*) FILTER (WHERE {ident(s)} <= {ident(e)}), "
                f"count(*) FILTER (WHERE {ident(s)} IS NOT NULL AND {ident(e)} IS NOT NULL) "
                f"FROM {relation.sql}").fetchone()
            if both:
                found[f"{s} <= {e}"] = round(ok / both, 4)
    return found


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _score(share: float | None) -> float | None:
    return None if share is None else round(100 * share, 1)


def _scores(rows: int, per_column: dict[str, dict[str, Any]], distinct_rows: int,
            formats: dict[str, float], pairs: dict[str, float], update_frequency: str | None,
            last_commit_at: datetime | None, now: datetime) -> dict[str, Any]:
    completeness = [c["completeness"] for c in per_column.values()
                    if c["completeness"] is not None]
    keys = {n: min(1.0, c["distinct_approx"] / c["non_null"]) for n, c in per_column.items()
            if c["key_like"] and c["non_null"]}
    uniqueness = [distinct_rows / rows, *keys.values()] if rows else []
    non_null = sum(c["non_null"] for c in per_column.values())
    valid = sum(c["valid"] for c in per_column.values())
    age = (now - last_commit_at) if last_commit_at else None
    period = PERIODS.get(update_frequency or "")
    timeliness: float | None = None
    if age is not None and period is not None:
        late = max(timedelta(0), age - period)
        timeliness = max(0.0, 1 - late / (2 * period))
    consistency = [*formats.values(), *pairs.values()]
    dims = {
        "completeness": {"score": _score(_mean(completeness)),
                         "columns": {n: c["completeness"] for n, c in per_column.items()}},
        "uniqueness": {"score": _score(_mean(uniqueness)), "rows": rows,
                       "distinct_rows": distinct_rows, "duplicate_rows": rows - distinct_rows,
                       "key_columns": {n: round(v, 4) for n, v in keys.items()}},
        "validity": {"score": _score(valid / non_null if non_null else None),
                     "valid_values": valid, "non_null_values": non_null,
                     "columns": {n: _share(c["valid"], c["non_null"])
                                 for n, c in per_column.items()}},
        "timeliness": {"score": _score(timeliness), "update_frequency": update_frequency,
                       "last_commit_at": last_commit_at.isoformat() if last_commit_at else None,
                       "age_hours": round(age.total_seconds() / 3600, 1) if age else None},
        "consistency": {"score": _score(_mean(consistency)), "format_share": formats,
                        "date_order": pairs},
    }
    assessed = [d["score"] for d in dims.values() if d["score"] is not None]
    return {"rows": rows, "overall": round(sum(assessed) / len(assessed), 1) if assessed else None,
            "dimensions": dims, "columns": per_column}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None
