"""The threshold rewrite: every output row must cover at least k distinct identities of
every product table in the query; rows under it are suppressed and only counted.

Counting distinct identities exactly per group is the expensive part of a query (a hash
table of (group, identity) pairs), so the first attempt (phase A) decides most groups from
two cheap bounds computed in the same pass:
  - upper bound: COUNT(identity) < k  -> certainly under the threshold (suppressed);
  - lower bound: the number of distinct buckets hash(identity) % m hit by the group; each
    bucket holds at least one distinct identity, so bits >= k -> certainly at or above it.
Groups between the bounds are "undecided"; if any exist (or nothing was kept), the exact
query (phase B) runs instead. Both phases filter in QUALIFY, after GROUP BY/HAVING and
before ORDER BY/LIMIT, so the consumer's ordering and limit apply to released rows only,
and a window over all groups counts the suppressed ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

DIALECT = "duckdb"
UNDECIDED = "__shugu_undecided"
SUPPRESSED = "__shugu_suppressed"
INTERNAL = (UNDECIDED, SUPPRESSED)
MAX_BUCKETS = 4096
# Columns the engine's identity-mask copy adds (engine/identity_cache.py).
MASK_COLUMN = "__shugu_m"
BUCKET_COLUMN = "__shugu_b"
RANK_COLUMN = "__shugu_r"
MASK_BUCKETS = 4096


@dataclass(frozen=True)
class Threshold:
    alias: str      # the table's alias in the query
    identity: str   # its identity column
    k: int
    # The table's precomputed bucket-mask column (engine.identity_cache), if the engine
    # provides one: the cheap bounds then read it instead of the identity.
    mask: str | None = None

    def column(self) -> str:
        return f'"{self.alias}"."{self.identity}"'

    def certain_drop(self) -> str:
        if self.mask:  # rows bound distinct identities from above, too
            return f"COUNT(*) < {self.k}"
        return f"COUNT({self.column()}) < {self.k}"

    def certain_keep(self) -> str:
        if self.mask and self.k <= 32:
            bits = f'BIT_COUNT(BIT_OR("{self.alias}"."{self.mask}"))'
        elif self.mask and 2 * self.k <= MASK_BUCKETS:
            bucket = f'"{self.alias}"."{BUCKET_COLUMN}"'
            bits = (f"BIT_COUNT(BITSTRING_AGG(CAST({bucket} AS INTEGER), 0, "
                    f"{MASK_BUCKETS - 1}))")
        elif self.k <= 32:
            bits = (f"BIT_COUNT(BIT_OR(CAST(1 AS UBIGINT) << CAST(HASH({self.column()}) % 64 "
                    "AS UBIGINT)))")
        else:
            m = min(MAX_BUCKETS, 8 * self.k)
            if m < 2 * self.k:  # too few buckets to ever certify: always exact
                return "FALSE"
            bits = (f"BIT_COUNT(BITSTRING_AGG(CAST(HASH({self.column()}) % {m} AS INTEGER), "
                    f"0, {m - 1}))")
        return f"COALESCE({bits} >= {self.k}, FALSE)"

    def exact_keep(self) -> str:
        return f"COUNT(DISTINCT {self.column()}) >= {self.k}"


def _all(parts: list[str]) -> str:
    return " AND ".join(f"({p})" for p in parts) or "TRUE"


def _any(parts: list[str]) -> str:
    return " OR ".join(f"({p})" for p in parts) or "FALSE"


def _e(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, read=DIALECT)


def _with_qualify(select: exp.Select, keep: str, extra: dict[str, str]) -> str:
    q = select.copy()
    for name, sql in extra.items():
        q.append("expressions", exp.alias_(_e(sql), name, quoted=True))
    q.set("qualify", exp.Qualify(this=_e(keep)))
    return q.sql(dialect=DIALECT)


def phase_a(select: exp.Select, thresholds: list[Threshold]) -> str:
    keep = _all([t.certain_keep() for t in thresholds])
    drop = _any([t.certain_drop() for t in thresholds])
    return _with_qualify(select, keep, {
        UNDECIDED: f"COUNT(*) FILTER (WHERE NOT ({keep}) AND NOT ({drop})) OVER ()",
        SUPPRESSED: f"COUNT(*) FILTER (WHERE {drop}) OVER ()",
    })


def phase_b(select: exp.Select, thresholds: list[Threshold]) -> str:
    keep = _all([t.exact_keep() for t in thresholds])
    return _with_qualify(select, keep, {
        UNDECIDED: "0",
        SUPPRESSED: f"COUNT(*) FILTER (WHERE NOT ({keep})) OVER ()",
    })


def identity_sets(select: exp.Select, groups: list[exp.Expression],
                  thresholds: list[Threshold]) -> str:
    """Distinct (grouping key, identities) rows the query reads: two queries' difference
    per group is what a differencing attack learns."""
    keys = [g.copy() for g in groups]
    cols = [exp.alias_(k, f"g{i}", quoted=True) for i, k in enumerate(keys)]
    cols += [exp.alias_(_e(t.column()), f"i{i}", quoted=True)
             for i, t in enumerate(thresholds)]
    q = exp.Select(expressions=cols).distinct()
    q.set("from_", select.args.get("from_").copy())
    if select.args.get("joins"):
        q.set("joins", [j.copy() for j in select.args["joins"]])
    if select.args.get("where") is not None:
        q.set("where", select.args["where"].copy())
    return q.sql(dialect=DIALECT)
