"""Turning a DP plan's exact, clamped answer into the noisy table a consumer receives.

The engine ran `DPPlan.sql` (contributions bounded, values clamped, grouped); here the
groups are released by a noisy threshold, every COUNT/SUM/AVG output is replaced by its
noisy release at `epsilon_each` with the sensitivity of L rows per identity (one call per
output over all groups: the groups are disjoint, so ε covers them together), and only then
is the consumer's ORDER BY/LIMIT applied — to noisy values, which is post-processing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from shugu.sandbox.dp import accuracy, selection
from shugu.sandbox.dp.mechanisms import noisy_avg_releases, noisy_counts, noisy_sums
from shugu.sandbox.gate.check import DIALECT
from shugu.sandbox.gate.dp_plan import IDS, DPPlan
from shugu.sandbox.gate.errors import refuse


@dataclass(frozen=True)
class Order:
    """How the consumer asked for the noisy answer to be cut: sort keys over output names."""

    keys: list[tuple[str, bool]]   # (output name, descending)
    limit: int | None
    offset: int


def order_of(select: exp.Select, p: DPPlan) -> Order:
    """Map the consumer's ORDER BY onto the plan's outputs, before anything runs: an
    ordering by something that is not an output cannot be applied to the noisy table."""
    bodies = [(q.this if isinstance(q, exp.Alias) else q).sql(dialect=DIALECT)
              for q in select.expressions]
    names = [o.name for o in p.outputs]
    keys: list[tuple[str, bool]] = []
    order = select.args.get("order")
    for ordered in order.expressions if order is not None else []:
        e = ordered.this
        name: str | None = None
        if isinstance(e, exp.Literal) and e.is_int and 1 <= int(e.name) <= len(names):
            name = names[int(e.name) - 1]
        elif e.sql(dialect=DIALECT) in bodies:
            name = names[bodies.index(e.sql(dialect=DIALECT))]
        elif isinstance(e, exp.Column) and not e.table:
            name = next((n for n in names if n.lower() == e.name.lower()), None)
        if name is None:
            raise refuse("dp_order_not_allowed", f"ORDER BY {e.sql(dialect=DIALECT)[:100]}: in "
                         "DP mode the answer can only be ordered by its output columns",
                         clause="ORDER BY", rule="dp_aggregates")
        keys.append((name, bool(ordered.args.get("desc"))))
    return Order(keys=keys, limit=_number(select, "limit"), offset=_number(select, "offset") or 0)


def _number(select: exp.Select, arg: str) -> int | None:
    node = select.args.get(arg)
    if node is None:
        return None
    value = node.expression if isinstance(node, (exp.Limit, exp.Offset)) else node
    if isinstance(value, exp.Literal) and value.is_int and 0 <= int(value.name) <= 10**12:
        return int(value.name)
    raise refuse("invalid_limit", f"{arg.upper()} must be a whole number", clause=arg.upper(),
                 rule="dp_aggregates")


def _ints(table: pa.Table, column: str | None) -> list[int]:
    assert column is not None
    return [int(v or 0) for v in table.column(column).to_pylist()]


def _sums(table: pa.Table, column: str | None) -> list[Any]:
    assert column is not None
    # SUM over no (non-null) values is NULL in SQL; the clamped sum of nothing is 0.
    return [0 if v is None else v for v in table.column(column).to_pylist()]


def release(p: DPPlan, exact: pa.Table, order: Order) -> tuple[pa.Table, dict[str, Any]]:
    """The noisy answer and what to say about it: ε per output and 95% margins (COUNT: ±
    on the count; SUM: ± on the clamped sum; AVG: none, its interval depends on the row).

    Grouped answers first release their groups (dp.selection): only groups whose noisy
    count of identities clears the threshold are kept, and their noisy counts are the
    COUNT(DISTINCT identity) outputs."""
    eps, n = p.epsilon_each, p.contributions
    ids: list[int] | None = None
    ids_margin: float | None = None
    if p.grouped:
        keys = [selection.key_of(row) for row in zip(*(exact.column(g).to_pylist()
                                                       for g in p.groups), strict=True)]
        # One unit touches at most L groups; with several dp tables, one unit of another
        # table can move a group's distinct count by up to L too.
        per_group = n if p.units > 1 else 1
        kept = selection.select(keys, _ints(exact, IDS), eps, p.delta, n, per_group)
        positions = [i for i, k in enumerate(keys) if k in kept]
        exact = exact.take(pa.array(positions, pa.int64()))
        ids = [kept[keys[i]] for i in positions]
        ids_margin = accuracy.margin_of_scale(
            selection.scale(eps, p.delta, n, per_group), integer=True)
    names: list[str] = []
    arrays: list[pa.Array] = []
    outputs: list[dict[str, Any]] = []
    for o in p.outputs:
        info: dict[str, Any] = {"name": o.name, "kind": o.kind}
        names.append(o.name)
        if o.kind == "group":
            assert o.group is not None
            arrays.append(exact.column(o.group).combine_chunks())
        elif o.kind == "ids":
            if ids is None:  # ungrouped: one more noisy count, one identity moves it by 1
                ids = noisy_counts(_ints(exact, IDS), eps, p.units if p.units > 1 else 1)
                ids_margin = accuracy.count_margin(eps, contributions=max(p.units, 1))
            arrays.append(pa.array(ids, pa.int64()))
            info["margin_95"] = ids_margin
        elif o.kind == "count":
            arrays.append(pa.array(noisy_counts(_ints(exact, o.count), eps, n), pa.int64()))
            info["margin_95"] = accuracy.count_margin(eps, contributions=n)
        elif o.kind == "sum":
            assert o.lower is not None and o.upper is not None
            assert o.value is not None
            # Integer noise (and an integer column) for integer bounds over an integer sum.
            kind = exact.column(o.value).type
            integer = (pa.types.is_integer(kind) or (pa.types.is_decimal(kind)
                                                     and kind.scale == 0)) and \
                all(isinstance(b, int) for b in (o.lower, o.upper))
            sums = _sums(exact, o.value)
            values = noisy_sums([int(v) for v in sums] if integer else [float(v) for v in sums],
                                o.lower, o.upper, eps, n)
            # Sums beyond ±2**62 take the float path (mechanisms._integer_sums).
            integer = integer and all(isinstance(v, int) for v in values)
            arrays.append(pa.array(values, pa.int64() if integer else pa.float64()))
            info["margin_95"] = accuracy.sum_margin(o.lower, o.upper, eps, integer=integer,
                                                    contributions=n)
        else:
            assert o.lower is not None and o.upper is not None
            avgs = noisy_avg_releases([float(v) for v in _sums(exact, o.value)],
                                      _ints(exact, o.count), o.lower, o.upper, eps, n)
            arrays.append(pa.array([a.value for a in avgs], pa.float64()))
            info["margin_95"] = None
        if o.kind != "group":
            info.update(epsilon=eps, lower=o.lower, upper=o.upper)
        outputs.append(info)
    table = pa.Table.from_arrays(arrays, names=names)
    if order.keys and table.num_rows:
        indices = pc.sort_indices(table, sort_keys=[
            (name, "descending" if desc else "ascending") for name, desc in order.keys])
        table = table.take(indices)
    if order.offset or order.limit is not None:
        table = table.slice(order.offset, order.limit)
    return table, {"outputs": outputs, "delta": p.delta, "contributions": n,
                   "groups_released_by": "noisy threshold" if p.grouped else None}
