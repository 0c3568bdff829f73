"""What a differential-privacy answer needs, derived from a gated query on `dp`-mode tables.

The DP mechanisms (shugu.sandbox.dp: noisy_count, noisy_sum, noisy_avg) take exact,
clamped aggregates. This module checks that the query only asks for aggregates with a
bounded sensitivity — COUNT(*), COUNT(column), SUM and AVG of columns with declared
bounds, each as a whole output column — and rewrites SUM/AVG into clamped sums plus a
count, so the noise can be added per output column. MIN, MAX and COUNT(DISTINCT) are
refused in DP mode (`dp_aggregate_not_allowed`). The plan's query still goes through the
k threshold (phase A/B) like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from shugu.sandbox.gate.check import DIALECT, Gated
from shugu.sandbox.gate.errors import refuse


@dataclass(frozen=True)
class Output:
    """One output column: "group" (passed through) or a noisy "count" / "sum" / "avg",
    read from the plan query's columns `value` (clamped sum or count) and `count`."""

    name: str
    kind: str
    value: str | None = None
    count: str | None = None
    lower: float | None = None
    upper: float | None = None


@dataclass(frozen=True)
class DPPlan:
    gated: Gated          # the rewritten query (threshold still applies)
    outputs: list[Output]
    epsilon: float        # per query; split evenly over the noisy outputs

    @property
    def epsilon_each(self) -> float:
        noisy = sum(1 for o in self.outputs if o.kind != "group")
        return self.epsilon / max(noisy, 1)


def plan(gated: Gated) -> DPPlan:
    epsilons = [t.rules.dp.epsilon_per_query for t in gated.provider_specs
                if t.rules is not None and t.rules.mode == "dp" and t.rules.dp is not None]
    select = gated.select.copy()
    if select.args.get("having") is not None:
        raise refuse("dp_having_not_allowed", "HAVING on exact aggregates is not allowed in DP "
                     "mode (filter the noisy answer instead)", clause="HAVING",
                     rule="dp_aggregates")
    # Ordering and limits apply to the noisy answer, after the mechanisms.
    for arg in ("order", "limit", "offset"):
        select.set(arg, None)
    projections: list[exp.Expression] = []
    outputs: list[Output] = []
    for i, p in enumerate(select.expressions):
        body = p.this if isinstance(p, exp.Alias) else p
        # An unaliased aggregate is named by its position ("COUNT(*)" would be named "*").
        name = p.alias if isinstance(p, exp.Alias) else \
            (f"col{i}" if body.find(exp.AggFunc) else p.alias_or_name) or f"col{i}"
        if not any(isinstance(n, exp.AggFunc) for n in body.find_all(exp.AggFunc)):
            projections.append(exp.alias_(body.copy(), name, quoted=True))
            outputs.append(Output(name=name, kind="group"))
            continue
        if isinstance(body, exp.Count) and not isinstance(body.this, exp.Distinct):
            projections.append(exp.alias_(body.copy(), f"{name}__count", quoted=True))
            outputs.append(Output(name=name, kind="count", count=f"{name}__count"))
            continue
        if isinstance(body, (exp.Sum, exp.Avg)) and isinstance(body.this, exp.Column):
            lower, upper = _bounds(gated, body.this)
            clamped = exp.func("LEAST", exp.func("GREATEST", body.this.copy(),
                                                 exp.Literal.number(lower)),
                               exp.Literal.number(upper))
            projections.append(exp.alias_(exp.Sum(this=clamped), f"{name}__sum", quoted=True))
            projections.append(exp.alias_(exp.Count(this=body.this.copy()), f"{name}__count",
                                          quoted=True))
            outputs.append(Output(name=name, kind="sum" if isinstance(body, exp.Sum) else "avg",
                                  value=f"{name}__sum", count=f"{name}__count",
                                  lower=lower, upper=upper))
            continue
        raise refuse("dp_aggregate_not_allowed", f"{body.sql(dialect=DIALECT)[:100]}: in DP "
                     "mode each output is COUNT, or SUM/AVG of one bounded column",
                     clause="SELECT", rule="dp_aggregates")
    select.set("expressions", projections)
    rewritten = Gated(select=select, specs=gated.specs, thresholds=gated.thresholds,
                      mode=gated.mode, fingerprint=gated.fingerprint, groups=gated.groups,
                      rule_versions=gated.rule_versions)
    return DPPlan(gated=rewritten, outputs=outputs, epsilon=min(epsilons or [0.0]))


def _bounds(gated: Gated, col: exp.Column) -> tuple[float, float]:
    spec = gated.specs.get((col.table or "").lower())
    rule = spec.rule(spec.column(col.name) or col.name) if spec is not None else None
    if rule is None or rule.lower is None or rule.upper is None:
        raise refuse("dp_bounds_missing", f"{col.sql(dialect=DIALECT)} has no declared "
                     "bounds; DP sums need them", clause="SELECT", column=col.name,
                     rule="dp_bounds")
    # Integral bounds stay integers, so an integer column keeps an integer clamped sum and
    # gets integer (discrete) noise.
    return _number(rule.lower), _number(rule.upper)


def _number(x: float) -> float:
    return int(x) if float(x).is_integer() else x
