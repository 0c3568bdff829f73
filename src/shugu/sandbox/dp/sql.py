"""The clamped aggregates a noisy release needs, as sqlglot expressions for the engine.

The noise is calibrated to the declared bounds, so the engine must sum values clamped to
them. CASE is used rather than LEAST(GREATEST(...)): same result, measured faster in DuckDB
2.0. Float bounds are cast to DOUBLE so the engine never turns them into DECIMAL literals.
"""

from __future__ import annotations

from numbers import Integral

from sqlglot import exp

from shugu.sandbox.dp.mechanisms import check_bounds


def _literal(value: float) -> exp.Expression:
    if isinstance(value, Integral) and not isinstance(value, bool):
        return exp.Literal.number(int(value))
    return exp.cast(exp.Literal.number(repr(float(value))), exp.DataType.Type.DOUBLE)


def _column(column: str | exp.Expression) -> exp.Expression:
    return exp.column(column, quoted=True) if isinstance(column, str) else column


def clamp(column: str | exp.Expression, lower: float, upper: float) -> exp.Expression:
    """The column's value clamped to [lower, upper]; NULL stays NULL (and out of sums)."""
    check_bounds(lower, upper)
    col = _column(column)
    lo, hi = _literal(lower), _literal(upper)
    return (exp.case()
            .when(exp.LT(this=col.copy(), expression=lo.copy()), lo.copy())
            .when(exp.GT(this=col.copy(), expression=hi.copy()), hi.copy())
            .else_(col.copy()))


def clamped_sum(column: str | exp.Expression, lower: float, upper: float) -> exp.Expression:
    """SUM of the clamped column: the input of noisy_sum(s) and noisy_avg(s)."""
    return exp.Sum(this=clamp(column, lower, upper))


def value_count(column: str | exp.Expression) -> exp.Expression:
    """COUNT(column): the number of values a clamped sum added up (the AVG denominator)."""
    return exp.Count(this=_column(column))
