"""CSV exports never hand a spreadsheet a formula, and leave numbers alone."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from shugu import spreadsheet
from shugu.billing.export import HEADER, to_csv


def test_formulas_become_text_and_numbers_stay_numbers() -> None:
    assert spreadsheet.row(["=1+2", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\r=1"]) == [
        "'=1+2", "'+cmd", "'-2+3", "'@SUM(A1)", "'\tx", "'\r=1"]
    assert spreadsheet.row(["-1.50", "+3", "-2e5", 7, -7, None, "杭州", "a=b"]) == [
        "-1.50", "+3", "-2e5", 7, -7, None, "杭州", "a=b"]


@given(st.text())
def test_no_text_cell_starts_a_formula(text: str) -> None:
    out = spreadsheet.cell(text)
    assert not out.startswith(spreadsheet.FORMULA_START) or spreadsheet.NUMBER.match(out)
    assert out.removeprefix("'") == text or out == text


def test_the_cost_items_export_neutralises_cells() -> None:
    line = ["2026-11-26", "SG-INV-1", "", "SG-AGR-1", "=HYPERLINK(\"http://x\")", "", "p",
            "one_time", "d", "1", "purchase", "-1.00", "1", "-1.00", "issued", "", ""]
    rows = list(csv.reader(io.StringIO(to_csv(iter([line])).lstrip("\ufeff"))))
    assert rows[0] == HEADER
    assert rows[1][4] == "'=HYPERLINK(\"http://x\")" and rows[1][13] == "-1.00"
