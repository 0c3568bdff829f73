"""Making a consumer's scalar expressions total, so that success or failure says nothing
about the data.

A query that fails on one row (a division by zero, an overflow, a string that does not
convert) and succeeds without it answers one bit about that row: binary search recovers a
value in a dozen queries. Every maximal aggregate-free scalar subexpression is wrapped in
DuckDB's TRY(...), which yields NULL where the expression would fail, for every row alike.
Columns and literals cannot fail and stay as they are; AND/OR/NOT only combine; aggregates
(which TRY cannot hold) have their arguments wrapped instead.
"""

from __future__ import annotations

from sqlglot import exp

_PASS_THROUGH = (exp.And, exp.Or, exp.Not, exp.Paren, exp.Alias, exp.Ordered, exp.Where,
                 exp.Having, exp.Group, exp.Order, exp.Distinct, exp.Tuple)
_SAFE = (exp.Column, exp.Literal, exp.Boolean, exp.Null, exp.Star, exp.Identifier,
         exp.DataType, exp.Var, exp.Interval, exp.Try)


def make_total(node: exp.Expression) -> exp.Expression:
    """The expression with its failing parts made total (returns the new root)."""
    if isinstance(node, _SAFE):
        return node
    if isinstance(node, (exp.AggFunc, *_PASS_THROUGH)) or \
            node.find(exp.AggFunc) is not None:
        for child in list(node.iter_expressions()):
            replacement = make_total(child)
            if replacement is not child:
                child.replace(replacement)
        return node
    return exp.Try(this=node.copy())


def total_select(select: exp.Select) -> exp.Select:
    """A copy of the query whose every clause has its scalar expressions made total. The same
    rewrite is applied to SELECT and GROUP BY, so grouped expressions still match."""
    q = select.copy()
    for key in ("expressions", "where", "group", "having", "order"):
        value = q.args.get(key)
        for node in value if isinstance(value, list) else [value]:
            if node is not None:
                replacement = make_total(node)
                if replacement is not node:
                    node.replace(replacement)
    return q
