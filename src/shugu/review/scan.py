"""The compliance scan: one DuckDB pass over a table finds, per column and detector, the
candidates (pattern), the matches (check digits confirmed) and two masked samples.

The query is built in layers so that each expression is computed once per row: the cell's
text; candidates (after a cheap length or `contains` test, one `regexp_matches`, and
`regexp_extract` only when the cell is not the candidate itself); numbers for the check
digits; confirmed values; then plain count/min/max aggregates. A plain regex scan makes one
`regexp_matches` call per cell and detector; this scan makes at most that many, which is
what pays for the check digits (bench/compliance_scan.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shugu.review import detectors as det
from shugu.review.engine import Relation, columns, connect, ident, run, sql_string

TEXT_TYPES = ("VARCHAR",)
INTEGER_TYPES = ("BIGINT", "UBIGINT", "HUGEINT", "UHUGEINT")
SAMPLES = 2


def applicable(duck_type: str) -> list[det.Detector]:
    if duck_type in TEXT_TYPES:
        return list(det.DETECTORS)
    if duck_type in INTEGER_TYPES:
        return [d for d in det.DETECTORS if d.numeric]
    return []


# Cheap tests that rule a cell out before any regular expression runs on it; most cells of
# most columns fail them, which is where the scan gains its time back for the checks.
_PREFILTER = {
    "id_card": "length({s}) >= 18",
    "mobile": "length({s}) >= 11",
    "bank_card": "length({s}) >= 16",
    "email": "contains({s}, '@')",
    "uscc": "length({s}) >= 18",
    "person_name": "length({s}) <= 8",
    "address": "(contains({s}, '号') OR contains({s}, '幢') OR contains({s}, '栋') "
               "OR contains({s}, '单元'))",
}


# When a cell that matches is the candidate itself: then no extraction (RE2's costly part,
# finding the group's bounds) is needed. A delimited 18-character match in an 18-character
# cell is the whole cell; a cell of digits only holds one run of digits.
_WHOLE = {
    "id_card": "length({s}) = 18",
    "uscc": "length({s}) = 18",
    "mobile": "length({s}) = 11",
    "bank_card": "ltrim({s}, '0123456789') = ''",
}


def _candidate(d: det.Detector, s: str) -> str:
    pattern = sql_string(d.pattern)
    if d.mode == "contains":
        found = f"CASE WHEN regexp_matches({s}, {pattern}) THEN {s} END"
    elif d.mode == "cell":
        found = f"CASE WHEN regexp_full_match({s}, {pattern}) THEN {s} END"
    elif d.key in _WHOLE:
        found = (f"CASE WHEN NOT regexp_matches({s}, {pattern}) THEN NULL "
                 f"WHEN {_WHOLE[d.key].format(s=s)} THEN {s} "
                 f"ELSE regexp_extract({s}, {pattern}, 1) END")
    else:  # one call: an empty extract is no match
        found = f"nullif(regexp_extract({s}, {pattern}, 1), '')"
    return f"CASE WHEN {_PREFILTER[d.key].format(s=s)} THEN {found} END"


def scan_sql(relation: Relation, cols: list[tuple[str, str]]
             ) -> tuple[str, list[tuple[str, list[det.Detector]]]]:
    """The scan query and, in its output order, the columns and detectors it covers.

    Layers: s (the text of the cell; integers only from 11 digits up), c (candidates),
    then numbers for the check digits, then the confirmed values v, then the aggregates.
    """
    types = dict(cols)
    plan = [(name, applicable(t)) for name, t in cols]
    plan = [(name, ds) for name, ds in plan if ds]
    if not plan:
        return f"SELECT count(*) FROM {relation.sql}", plan
    texts, cands, nums, checks, usccs, aggs = [], [], [], [], [], ["count(*)"]
    for i, (name, ds) in enumerate(plan):
        col = ident(name)
        texts.append(f"CASE WHEN {col} >= 10000000000 THEN CAST({col} AS VARCHAR) END AS s{i}"
                     if types[name] in INTEGER_TYPES else f"{col} AS s{i}")
        cands.append(f"s{i} IS NOT NULL AS n{i}")
        keep = [f"n{i}"]
        aggs.append(f"count(*) FILTER (WHERE n{i})")
        # A valid resident ID that also passes another check is counted once, as an ID.
        ident_card = f"v{i}_id_card" if any(x.key == "id_card" for x in ds) else "NULL"
        for d in ds:
            c, v = f"c{i}_{d.key}", f"v{i}_{d.key}"
            cands.append(f"{_candidate(d, f's{i}')} AS {c}")
            keep.append(c)
            if d.key == "id_card":
                nums.append(f"TRY_CAST(substr({c}, 1, 17) AS BIGINT) AS k{i}_id")
                checks.append(f"CASE WHEN k{i}_id IS NULL THEN NULL "
                              f"WHEN {det.id_card_sql(c, f'k{i}_id')} THEN upper({c}) END AS {v}")
            elif d.key == "bank_card":
                nums.append(f"TRY_CAST({c} AS UBIGINT) AS k{i}_bank")
                checks.append(f"CASE WHEN k{i}_bank IS NULL THEN NULL "
                              f"WHEN {det.luhn_sql(f'k{i}_bank')} THEN {c} END AS {v}")
            elif d.key == "uscc":
                usccs.append(f"CASE WHEN {c} IS NULL OR {c} = {ident_card} THEN NULL "
                             f"WHEN {det.uscc_sql(c)} THEN {c} END AS {v}")
            else:
                checks.append(f"{c} AS {v}")
            if d.key == "bank_card":
                checks[-1] = checks[-1].replace(f" AS {v}", f" AS w{i}_bank")
                usccs.append(f"CASE WHEN w{i}_bank = {ident_card} THEN NULL "
                             f"ELSE w{i}_bank END AS {v}")
            elif d.key != "uscc":
                usccs.append(v)
            aggs += [f"count({c})", f"count({v})", f"min({v})", f"max({v})"]
        nums += keep
        checks += keep
        usccs += keep
    sql = (f"SELECT {', '.join(aggs)} FROM (SELECT {', '.join(usccs)} FROM "
           f"(SELECT {', '.join(checks)} FROM (SELECT {', '.join(nums)} FROM "
           f"(SELECT {', '.join(cands)} FROM (SELECT {', '.join(texts)} FROM {relation.sql})))))")
    return sql, plan


def scan_relation(relation: Relation, *, threads: int | None = None,
                  progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """The compliance report of one table: rows scanned and, per column, each detector's
    candidates, matches, whether confirmed, and masked samples."""
    con = connect(relation.files, threads)
    try:
        cols = columns(con, relation)
        sql, plan = scan_sql(relation, cols)
        row = run(con, sql, progress)
    finally:
        con.close()
    return _report(row, plan, cols)


def _report(row: tuple[Any, ...], plan: list[tuple[str, list[det.Detector]]],
            cols: list[tuple[str, str]]) -> dict[str, Any]:
    values = iter(row)
    rows = int(next(values))
    out: dict[str, Any] = {"rows_scanned": rows, "columns": {}}
    scanned = {name for name, _ds in plan}
    for name, ds in plan:
        non_null = int(next(values))
        found: dict[str, Any] = {}
        for d in ds:
            candidates, matches, lo, hi = next(values), next(values), next(values), next(values)
            if not matches:  # candidates alone (digits shaped like an ID) are noise
                continue
            share = matches / candidates
            confirmed = matches > 0 and (
                (not d.checked and d.key != "person_name")
                or det.hinted(d, name)
                or (share >= det.CONFIRM_SHARE if d.checked else matches / non_null >= 0.5))
            samples = [det.mask(d.key, str(v)) for v in dict.fromkeys((lo, hi)) if v is not None]
            found[d.key] = {"candidates": int(candidates), "matches": int(matches),
                            "confirmed": bool(confirmed), "samples": samples[:SAMPLES]}
        out["columns"][name] = {"type": dict(cols)[name], "non_null": non_null,
                                "detections": found}
    for name, t in cols:
        if name not in scanned:
            out["columns"][name] = {"type": t, "non_null": None, "detections": {}}
    return out


def risk_grade(tables: dict[str, dict[str, Any]]) -> tuple[str, list[str]]:
    """high: confirmed sensitive personal information (ID cards, bank cards); medium: other
    confirmed personal information; low: none. Also the confirmed kinds, sorted."""
    kinds: set[str] = set()
    for report in tables.values():
        for column in report["columns"].values():
            kinds.update(k for k, v in column["detections"].items() if v["confirmed"])
    personal = kinds - {"uscc"}
    if any(det.BY_KEY[k].sensitive for k in personal):
        return "high", sorted(kinds)
    return ("medium" if personal else "low"), sorted(kinds)
