"""Refusals name the clause, the column and the rule that stopped the query."""

from __future__ import annotations

from typing import Any

from shugu.errors import InvalidInput, Unprocessable


class Refused(Unprocessable):
    """422 with `details = {clause, column, rule, ...}`; `code` is stable."""

    code = "query_refused"


class SyntaxRefused(InvalidInput):
    code = "sql_syntax"


def refuse(code: str, message: str, *, clause: str | None = None, column: str | None = None,
           rule: str, **extra: Any) -> Refused:
    return Refused(message, code=code, clause=clause, column=column, rule=rule, **extra)
