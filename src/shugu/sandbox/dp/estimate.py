"""Accuracy before running: what a DP query would cost and how accurate it would be.

Margins depend only on ε, the declared bounds, L and δ — never on the data — so they can be
told before anything runs and cost no privacy. "±X at 95 %" becomes the ε that reaches it:
each margin shrinks as ε grows, so the smallest sufficient ε per output is found by a short
search starting from the continuous Laplace relation margin ∝ 1/ε, and the query spends
that per output times its number of shares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shugu.errors import Unprocessable
from shugu.sandbox.dp import accuracy, selection
from shugu.sandbox.gate.dp_plan import DPPlan, Output

MAX_EPSILON = 100.0  # above any table's maximum per query (10)


def _margin_function(p: DPPlan, o: Output,
                     confidence: float) -> Callable[[float], float] | None:
    n = p.contributions
    if o.kind == "count":
        return lambda e: accuracy.count_margin(e, confidence, contributions=n)
    if o.kind == "sum":
        assert o.lower is not None and o.upper is not None
        lower, upper = o.lower, o.upper
        return lambda e: accuracy.sum_margin(lower, upper, e, confidence, contributions=n)
    if o.kind == "ids":
        if p.grouped:
            per_group = n if p.units > 1 else 1
            return lambda e: accuracy.margin_of_scale(
                selection.scale(e, p.delta, n, per_group), confidence, integer=True)
        units = max(p.units, 1)
        return lambda e: accuracy.count_margin(e, confidence, contributions=units)
    return None  # groups and averages have no single margin


def outputs(p: DPPlan, confidence: float = accuracy.DEFAULT_CONFIDENCE) -> list[dict[str, Any]]:
    out = []
    for o in p.outputs:
        f = _margin_function(p, o, confidence)
        info: dict[str, Any] = {"name": o.name, "kind": o.kind,
                                "margin_95": f(p.epsilon_each) if f else None}
        if o.kind != "group":
            info.update(epsilon=p.epsilon_each, lower=o.lower, upper=o.upper)
        out.append(info)
    return out


def epsilon_for(p: DPPlan, margin: float, confidence: float) -> float:
    """The ε the whole query needs so that every COUNT, SUM and distinct count is within
    ±margin with the given confidence."""
    needed = 0.0
    functions = [f for o in p.outputs if (f := _margin_function(p, o, confidence))]
    if not functions:
        raise Unprocessable("this query has no COUNT or SUM output whose accuracy can be "
                            "chosen; give epsilon instead", code="accuracy_not_applicable")
    for f in functions:
        e = max(f(1.0) / margin, 1e-9)
        # Laplace margins are proportional to 1/ε: a few rounding steps at most. Beyond any
        # ε a table allows, the plan refuses it (epsilon_too_large).
        for _ in range(200):
            if e > MAX_EPSILON or f(e) <= margin:
                break
            e *= 1.01
        needed = max(needed, e)
    return needed * p.shares
