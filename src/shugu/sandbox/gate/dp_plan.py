"""What an entity-level differentially private answer needs, derived from a gated query on
`dp`-mode tables.

The unit of privacy is the identity (the identity column of each dp table), not the row.
The plan rewrites the consumer's query into one the engine runs:

1. rows: the consumer's FROM/JOIN/WHERE, with its grouping expressions, the columns its
   aggregates read and each dp table's identity; rows without an identity are left out
   (they belong to no unit that could be bounded);
2. bounding: every identity keeps at most L rows (`dp.max_rows_per_identity`), chosen at
   random, AFTER the joins — so a consumer's own table that repeats an identity, or weights
   it, cannot raise its contribution; the L rows are chosen among the rows the query keeps
   (after WHERE), so filters do not bias answers. A whole single table (no WHERE) reads the
   rank fixed in the engine's per-version copy (a filter, no window);
3. aggregates per group: the distinct identities (for the group's release), COUNT, and
   SUM of values clamped to the column's declared bounds.

The noise (dp/release.py) is calibrated to those bounds: one identity moves a count by at
most L, a sum by at most L·max(|lower|, |upper|), and appears in at most L groups.
Outputs allowed: COUNT(*), COUNT(column), COUNT(DISTINCT identity), SUM and AVG of a bare
bounded column of a dp table. MIN, MAX, other distinct counts and HAVING on exact
aggregates are refused. Scalar expressions in WHERE and GROUP BY are made total (TRY), so
a value that would make one fail yields NULL instead of a failed query.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from shugu.sandbox.dp.sql import clamped_sum, value_count
from shugu.sandbox.gate.catalog import TableSpec
from shugu.sandbox.gate.check import DIALECT, Gated
from shugu.sandbox.gate.errors import refuse
from shugu.sandbox.gate.threshold import RANK_COLUMN
from shugu.sandbox.gate.totality import make_total

IDS = "__ids"


@dataclass(frozen=True)
class Output:
    """One output column: "group" (a released group key), "ids" (distinct identities),
    or a noisy "count" / "sum" / "avg" read from the engine's columns `value` (clamped sum)
    and `count`."""

    name: str
    kind: str
    value: str | None = None
    count: str | None = None
    lower: float | None = None
    upper: float | None = None
    group: str | None = None       # for "group": the engine column holding the key


@dataclass(frozen=True)
class DPPlan:
    sql: str                        # the engine query (bounded, grouped, clamped)
    outputs: list[Output]
    groups: list[str]               # engine columns of the group keys (empty: one group)
    contributions: int              # L: rows one identity may add
    epsilon: float                  # the whole query's ε
    delta: float                    # δ of the group release (0 when ungrouped)
    units: int = 1                  # dp tables (privacy units) in the query
    shares: int = field(default=1)  # ε is split evenly over these

    @property
    def epsilon_each(self) -> float:
        return self.epsilon / self.shares

    @property
    def grouped(self) -> bool:
        return bool(self.groups)


def dp_specs(gated: Gated) -> list[tuple[str, TableSpec]]:
    return sorted(((a, s) for a, s in gated.specs.items()
                   if s.rules is not None and s.rules.mode == "dp"), key=lambda a: a[0])


def settings_of(gated: Gated) -> tuple[float, float, float, int]:
    """(default ε, maximum ε, δ, L) of the query: the strictest of its dp tables."""
    specs = [s for _, s in dp_specs(gated)]
    ds = [s.rules.dp for s in specs if s.rules is not None]
    default = min(d.epsilon_per_query for d in ds)
    maximum = min(d.max_epsilon_per_query or d.epsilon_per_query for d in ds)
    return (min(default, maximum), maximum, min(d.delta for d in ds),
            max(d.max_rows_per_identity for d in ds))


def plan(gated: Gated, epsilon: float | None = None) -> DPPlan:
    specs = dp_specs(gated)
    others = [s for s in gated.provider_specs if s.rules is None or s.rules.mode != "dp"]
    if others:
        raise refuse("modes_mixed", f"{others[0].ref} is not under differential privacy; a "
                     "query over a dp table may join only dp tables and your own tables",
                     clause="FROM", rule="dp_units")
    default, maximum, delta, bound = settings_of(gated)
    eps = default if epsilon is None else epsilon
    if eps > maximum + 1e-12:
        raise refuse("epsilon_too_large", f"ε {eps:g} is above the {maximum:g} a query may "
                     "spend on these tables", clause=None, rule="dp_epsilon", maximum=maximum)
    select = gated.select
    if select.args.get("having") is not None:
        raise refuse("dp_having_not_allowed", "HAVING on exact aggregates is not allowed in DP "
                     "mode (filter the noisy answer instead)", clause="HAVING",
                     rule="dp_aggregates")
    group = select.args.get("group")
    group_exprs = list(group.expressions) if group is not None else []
    group_sql = [g.sql(dialect=DIALECT) for g in group_exprs]
    identity = {alias: spec.rules.identity for alias, spec in specs if spec.rules}

    rows: list[exp.Expression] = [exp.alias_(make_total(g.copy()), f"__g{i}", quoted=True)
                                  for i, g in enumerate(group_exprs)]
    for n, (alias, _) in enumerate(specs):
        rows.append(exp.alias_(exp.column(identity[alias], table=alias, quoted=True),
                               f"__id{n}", quoted=True))
    outputs: list[Output] = []
    aggregates: list[exp.Expression] = [exp.alias_(
        exp.Count(this=exp.Distinct(expressions=[exp.column("__id0", quoted=True)])), IDS,
        quoted=True)]
    for i, p in enumerate(select.expressions):
        body = p.this if isinstance(p, exp.Alias) else p
        name = p.alias if isinstance(p, exp.Alias) else \
            (f"col{i}" if body.find(exp.AggFunc) else p.alias_or_name) or f"col{i}"
        if not body.find(exp.AggFunc):
            sql = body.sql(dialect=DIALECT)
            if sql not in group_sql:
                raise refuse("dp_group_output", f"{sql[:100]}: in DP mode every output that is "
                             "not an aggregate must be one of the GROUP BY expressions",
                             clause="SELECT", rule="dp_aggregates")
            outputs.append(Output(name=name, kind="group",
                                  group=f"__g{group_sql.index(sql)}"))
            continue
        outputs.append(_aggregate(gated, body, name, i, rows, aggregates, identity, specs))

    # Which L rows of an identity stay is decided among the rows the query keeps (after its
    # joins and WHERE), at random. A whole single table reads the rank fixed in the engine's
    # per-version copy instead: a filter, no window.
    single = len(gated.specs) == 1 and select.args.get("where") is None
    if not single:
        rows.append(exp.alias_(exp.Anonymous(this="RANDOM"), "__shuffle", quoted=True))
    inner = exp.Select(expressions=rows)
    inner.set("from_", (select.args.get("from_") or select.args.get("from")).copy())
    if select.args.get("joins"):
        inner.set("joins", [j.copy() for j in select.args["joins"]])
    conditions = [exp.column(identity[a], table=a, quoted=True).is_(exp.null()).not_()
                  for a, _ in specs]
    where = select.args.get("where")
    if where is not None:
        conditions.insert(0, make_total(where.this.copy()))
    if single:
        alias = specs[0][0]
        conditions.append(exp.LTE(this=exp.column(RANK_COLUMN, table=alias, quoted=True),
                                  expression=exp.Literal.number(bound)))
    inner.set("where", exp.Where(this=exp.and_(*conditions)))
    body_sql = inner.sql(dialect=DIALECT)
    if not single:
        for n in range(len(specs)):
            body_sql = (f'SELECT * FROM ({body_sql}) AS __b{n} QUALIFY ROW_NUMBER() OVER '
                        f'(PARTITION BY "__id{n}" ORDER BY "__shuffle") <= {bound}')
    keys = [f'"__g{i}"' for i in range(len(group_exprs))]
    sql = (f"SELECT {', '.join([*keys, *(a.sql(dialect=DIALECT) for a in aggregates)])} "
           f"FROM ({body_sql}) AS __bounded"
           + (f" GROUP BY {', '.join(keys)}" if keys else ""))
    noisy = sum(1 for o in outputs if o.kind not in ("group", "ids"))
    has_ids = any(o.kind == "ids" for o in outputs)
    # Grouped: the release of the groups costs one share and gives the distinct counts;
    # ungrouped: a distinct count is one more noisy output.
    shares = noisy + (1 if keys else int(has_ids))
    return DPPlan(sql=sql, outputs=outputs, groups=[f"__g{i}" for i in range(len(keys))],
                  contributions=bound, epsilon=eps, delta=delta if keys else 0.0,
                  units=len(specs), shares=max(shares, 1))


def _aggregate(gated: Gated, body: exp.Expression, name: str, i: int,
               rows: list[exp.Expression], aggregates: list[exp.Expression],
               identity: dict[str, str], specs: list[tuple[str, TableSpec]]) -> Output:
    not_allowed = refuse("dp_aggregate_not_allowed", f"{body.sql(dialect=DIALECT)[:100]}: in DP "
                         "mode each output is COUNT(*), COUNT(column), COUNT(DISTINCT "
                         "identity), or SUM/AVG of one bounded column", clause="SELECT",
                         rule="dp_aggregates")
    if isinstance(body, exp.Count):
        arg = body.this
        if isinstance(arg, exp.Distinct):
            items = arg.expressions
            col = items[0] if len(items) == 1 else None
            if isinstance(col, exp.Column) and (col.table or "").lower() == specs[0][0] and \
                    col.name.lower() == identity[specs[0][0]].lower():
                return Output(name=name, kind="ids", count=IDS)
            raise not_allowed
        value = f"__v{i}"
        if isinstance(arg, exp.Star):
            aggregates.append(exp.alias_(exp.Count(this=exp.Star()), value, quoted=True))
        elif isinstance(arg, exp.Column):
            rows.append(exp.alias_(arg.copy(), value, quoted=True))
            aggregates.append(exp.alias_(exp.Count(this=exp.column(value, quoted=True)), value,
                                         quoted=True))
        else:
            raise not_allowed
        return Output(name=name, kind="count", count=value)
    if isinstance(body, exp.Sum | exp.Avg) and isinstance(body.this, exp.Column):
        lower, upper = _bounds(gated, body.this)
        value, count = f"__v{i}", f"__n{i}"
        rows.append(exp.alias_(body.this.copy(), value, quoted=True))
        aggregates.append(exp.alias_(clamped_sum(value, lower, upper), value, quoted=True))
        aggregates.append(exp.alias_(value_count(value), count, quoted=True))
        return Output(name=name, kind="sum" if isinstance(body, exp.Sum) else "avg",
                      value=value, count=count, lower=lower, upper=upper)
    raise not_allowed


def _bounds(gated: Gated, col: exp.Column) -> tuple[float, float]:
    spec = gated.specs.get((col.table or "").lower())
    rule = spec.rule(spec.column(col.name) or col.name) if spec is not None else None
    if spec is None or spec.rules is None or spec.rules.mode != "dp" or rule is None \
            or rule.lower is None or rule.upper is None:
        raise refuse("dp_bounds_missing", f"{col.sql(dialect=DIALECT)} has no declared "
                     "bounds; DP sums need them", clause="SELECT", column=col.name,
                     rule="dp_bounds")
    # Integral bounds stay integers, so an integer column keeps an integer clamped sum and
    # gets integer (discrete) noise.
    return _number(rule.lower), _number(rule.upper)


def _number(x: float) -> float:
    return int(x) if float(x).is_integer() else x
