"""The restricted aggregation rule ("aggregate" mode): exact answers that cannot be turned
into a tracker.

A threshold on each output row does not stop trackers: two big groups whose difference is
one identity, a marginal total minus its released groups, a condition folded into an
aggregate. So exact answers are computed only from *cells* — one combination of the values
of every dimension column of the table — that hold at least k distinct identities; rows of
smaller cells are left out of every answer (the engine reads a copy without them,
engine/identity_cache.released). The language is narrowed so that a query can only select
and combine whole cells:

- one product table, no joins (a consumer's own table could pick identities one by one);
- WHERE and GROUP BY only over dimension columns (any expression of them selects whole
  cells);
- aggregates only over bare columns as written: SUM/AVG/COUNT of listed measure columns,
  COUNT(*), MIN/MAX of dimensions (a measure's extreme can be one identity's value);
- COUNT(DISTINCT identity) only when grouping by every dimension (an output row is then one
  cell; over unions of cells distinct counts are not additive and their differences count
  the identities two cells share).

Any linear combination of answers is then a combination of whole cells of at least k
identities each: nothing about an identity in a small cell, nor about one identity inside
a big cell, can be isolated. What remains possible is written in docs/sandbox-threat-model.md.
"""

from __future__ import annotations

from sqlglot import exp

from shugu.sandbox.gate.catalog import TableSpec
from shugu.sandbox.gate.check import DIALECT, Gated
from shugu.sandbox.gate.errors import refuse

RULE = "restricted_aggregation"


def dimensions(spec: TableSpec) -> list[str]:
    assert spec.rules is not None
    return sorted(n for n, c in spec.rules.columns.items() if c.role == "dimension")


def check(gated: Gated) -> None:
    if len(gated.specs) != 1:
        raise refuse("join_not_allowed", "tables under a restricted aggregation rule are "
                     "answered from one table alone; joins need the table's dp mode",
                     clause="JOIN", rule=RULE)
    spec = gated.provider_specs[0]
    dims = {d.lower() for d in dimensions(spec)}
    select = gated.select
    for key, clause in (("where", "WHERE"), ("group", "GROUP BY")):
        node = select.args.get(key)
        if node is None:
            continue
        for col in node.find_all(exp.Column):
            if _real(spec, col) not in dims:
                raise refuse("dimension_required", f"{_name(spec, col)}: {clause} may use only "
                             "dimension columns under a restricted aggregation rule",
                             clause=clause, column=_name(spec, col), rule=RULE)
    grouped_by = {_real(spec, g) for g in (select.args["group"].expressions
                                          if select.args.get("group") else [])
                  if isinstance(g, exp.Column)}
    for agg in select.find_all(exp.AggFunc):
        _aggregate(spec, agg, dims, grouped_by)


def _aggregate(spec: TableSpec, agg: exp.AggFunc, dims: set[str], grouped_by: set[str]) -> None:
    arg = agg.this
    distinct = isinstance(arg, exp.Distinct)
    if distinct:
        items = arg.expressions
        arg = items[0] if len(items) == 1 else None
    if isinstance(agg, exp.Count) and isinstance(arg, exp.Star) and not distinct:
        return
    clause = "SELECT"
    if not isinstance(arg, exp.Column):
        raise refuse("aggregate_expression_not_allowed", f"{agg.sql(dialect=DIALECT)[:100]}: "
                     "aggregate one column as written (no expressions inside an aggregate "
                     "under a restricted aggregation rule)", clause=clause, rule=RULE)
    rule = spec.rule(spec.column(arg.name) or arg.name)
    role = rule.role if rule is not None else None
    name = _name(spec, arg)
    if isinstance(agg, exp.Min | exp.Max) and role != "dimension":
        raise refuse("aggregate_not_allowed", f"MIN/MAX of {name}: an extreme of a measure can "
                     "be one identity's value; MIN and MAX are for dimension columns",
                     clause=clause, column=name, rule=RULE)
    if distinct:
        if role == "identity":
            if not dims <= grouped_by:
                raise refuse("aggregate_not_allowed", f"COUNT(DISTINCT {name}) needs GROUP BY "
                             "every dimension column "
                             f"({', '.join(sorted(dims)) or 'none'}) under a restricted "
                             "aggregation rule", clause=clause, column=name, rule=RULE)
        elif role != "dimension":
            raise refuse("aggregate_not_allowed", f"COUNT(DISTINCT {name}) is not allowed "
                         "under a restricted aggregation rule", clause=clause, column=name,
                         rule=RULE)
    elif role in ("join_key", "never_output"):
        raise refuse("aggregate_not_allowed", f"{name} cannot be aggregated under a restricted "
                     "aggregation rule", clause=clause, column=name, rule=RULE)


def _real(spec: TableSpec, col: exp.Column) -> str:
    return (spec.column(col.name) or col.name).lower()


def _name(spec: TableSpec, col: exp.Column) -> str:
    return f"{spec.ref}.{spec.column(col.name) or col.name}"
