"""jsonPredicateHints: skip files that provably hold no matching row.

Each file is judged from its partition values (exact) and its statistics (min, max, null
count): a predicate evaluates to the pair (may be true, may be false) for some row of the
file, so `not` and `or` stay sound. A file is skipped only when no row may make the predicate
true. Hints are best effort by the protocol: anything we cannot read (an unknown op, a value
that does not parse) disables filtering for that request instead of failing it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from shugu.sharing.delta_log import FileAction

# delta-rs truncates long string statistics; a truncated max is no upper bound.
_STRING_STATS_LIMIT = 32


class Unusable(Exception):
    """The hint cannot be applied; serve every file."""


@dataclass(frozen=True)
class Domain:
    """What a file may hold for one operand: bounds (None: unknown) and null possibilities."""

    lo: Any
    hi: Any
    may_null: bool
    may_value: bool


def _to(value_type: str, raw: Any) -> Any:
    if raw is None:
        return None
    if value_type in ("int", "long"):
        return int(raw)
    if value_type in ("float", "double"):
        return float(raw)
    if value_type == "bool":
        if isinstance(raw, bool):
            return raw
        return str(raw).lower() == "true"
    if value_type == "string":
        return str(raw)
    if value_type == "date":
        return date.fromisoformat(str(raw)[:10])
    if value_type == "timestamp":
        text = str(raw).replace("Z", "+00:00")
        dt = datetime.fromisoformat(text)
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    raise Unusable(f"value type {value_type}")


class FileStats:
    def __init__(self, f: FileAction, partition_columns: set[str]) -> None:
        self.file = f
        self.partition_columns = partition_columns
        self._stats: dict[str, Any] | None = None

    @property
    def stats(self) -> dict[str, Any]:
        # Parsed only when a non-partition column is asked about: partition pruning over
        # thousands of files should not pay for JSON it never reads.
        if self._stats is None:
            self._stats = json.loads(self.file.stats) if self.file.stats else {}
        return self._stats

    def domain(self, name: str, value_type: str) -> Domain:
        if name in self.partition_columns:
            raw = self.file.partition_values.get(name)
            if raw is None or raw == "":
                return Domain(None, None, True, False)
            v = _to(value_type, raw)
            return Domain(v, v, False, True)
        n = self.stats.get("numRecords")
        nulls = (self.stats.get("nullCount") or {}).get(name)
        lo = (self.stats.get("minValues") or {}).get(name)
        hi = (self.stats.get("maxValues") or {}).get(name)
        if isinstance(lo, dict) or isinstance(hi, dict):
            return Domain(None, None, True, True)
        if value_type == "string" and isinstance(hi, str) and len(hi) >= _STRING_STATS_LIMIT:
            hi = None
        may_null = not isinstance(nulls, int) or nulls > 0
        may_value = not (isinstance(nulls, int) and isinstance(n, int) and nulls >= n)
        return Domain(_to(value_type, lo), _to(value_type, hi), may_null, may_value)


def _leaf(node: dict[str, Any], f: FileStats) -> Domain:
    op = node.get("op")
    vt = node.get("valueType")
    if not isinstance(vt, str):
        raise Unusable("valueType missing")
    if op == "column":
        return f.domain(str(node["name"]), vt)
    if op == "literal":
        v = _to(vt, node.get("value"))
        return Domain(v, v, v is None, v is not None)
    raise Unusable(f"{op} is not a leaf")


def _lt(a: Any, b: Any) -> bool:
    return bool(a < b)


def _compare(op: str, left: Domain, right: Domain) -> tuple[bool, bool]:
    if not (left.may_value and right.may_value):
        return False, False  # a comparison with null is never true (nor false)
    llo, lhi, rlo, rhi = left.lo, left.hi, right.lo, right.hi
    unknown = llo is None or lhi is None or rlo is None or rhi is None
    if op == "equal":
        if unknown:
            return True, True
        may_true = not (_lt(lhi, rlo) or _lt(rhi, llo))
        may_false = not (llo == lhi == rlo == rhi)
        return may_true, may_false
    if op in ("greaterThan", "greaterThanOrEqual"):
        op = "lessThan" if op == "greaterThan" else "lessThanOrEqual"
        left, right = right, left
        llo, lhi, rlo, rhi = left.lo, left.hi, right.lo, right.hi
    if op == "lessThan":  # left < right
        may_true = llo is None or rhi is None or _lt(llo, rhi)
        may_false = lhi is None or rlo is None or not _lt(lhi, rlo)
        return may_true, may_false
    if op == "lessThanOrEqual":
        may_true = llo is None or rhi is None or not _lt(rhi, llo)
        may_false = lhi is None or rlo is None or _lt(rlo, lhi)
        return may_true, may_false
    raise Unusable(f"op {op}")


def evaluate(node: dict[str, Any], f: FileStats) -> tuple[bool, bool]:
    """(may some row make it true, may some row make it false)."""
    op = node.get("op")
    children = node.get("children") or []
    if op == "and":
        results = [evaluate(c, f) for c in children]
        return all(t for t, _ in results), any(x for _, x in results)
    if op == "or":
        results = [evaluate(c, f) for c in children]
        return any(t for t, _ in results), all(x for _, x in results)
    if op == "not":
        if len(children) != 1:
            raise Unusable("not takes one child")
        t, x = evaluate(children[0], f)
        return x, t
    if op == "isNull":
        if len(children) != 1:
            raise Unusable("isNull takes one child")
        d = _leaf(children[0], f)
        return d.may_null, d.may_value
    if op in ("equal", "lessThan", "lessThanOrEqual", "greaterThan", "greaterThanOrEqual"):
        if len(children) != 2:
            raise Unusable(f"{op} takes two children")
        return _compare(op, _leaf(children[0], f), _leaf(children[1], f))
    raise Unusable(f"op {op}")


# Hints beyond these are not read (filtering is off), so a hostile hint costs nothing: real
# clients send a few dozen nodes; every file is judged against every node.
MAX_HINT_CHARS = 100_000
MAX_HINT_DEPTH = 64
MAX_HINT_NODES = 2_000


def _readable(tree: Any) -> bool:
    """Within the depth and node limits (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(tree, 1)]
    nodes = 0
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if depth > MAX_HINT_DEPTH or nodes > MAX_HINT_NODES:
            return False
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return True


def parse(hint: str | None) -> dict[str, Any] | None:
    """The hint's tree, or None when it cannot be read (the protocol: filtering is off)."""
    if not hint or len(hint) > MAX_HINT_CHARS:
        return None
    try:
        tree = json.loads(hint)
    except (ValueError, RecursionError):
        return None
    return tree if isinstance(tree, dict) and _readable(tree) else None


def select(files: list[FileAction], partition_columns: list[str],
           tree: dict[str, Any] | None) -> tuple[list[FileAction], bool]:
    """The files that may match, and whether the hint was applied."""
    if tree is None:
        return files, False
    cols = set(partition_columns)
    try:
        kept = [f for f in files if evaluate(tree, FileStats(f, cols))[0]]
    except (Unusable, KeyError, TypeError, ValueError, ArithmeticError, RecursionError):
        return files, False
    return kept, True
