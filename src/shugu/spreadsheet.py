"""CSV cells that spreadsheet programs will not run as formulas.

Values in an export come from other parties (a provider's product titles, the rows of a
sandbox answer). A text cell starting with = + - @ (or a tab or carriage return) is a
formula to Excel and WPS, which can run commands or leak data when the file is opened
(OWASP "CSV injection"). Such cells get a leading apostrophe, which spreadsheets show as
text; numbers, including negative ones, stay numbers.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_START) \
            and not NUMBER.match(value):
        return "'" + value
    return value


def row(values: list[Any]) -> list[Any]:
    return [cell(v) for v in values]
