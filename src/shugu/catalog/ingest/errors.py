"""The answers ingestion gives to bad input: stable codes, 4xx, and nothing written."""

from __future__ import annotations

from typing import Any

from shugu.errors import Conflict, InvalidInput, ShuguError, Unprocessable


class UnsupportedFormat(ShuguError):
    status = 415
    code = "unsupported_format"


class StorageInconsistent(ShuguError):
    """The Delta log is behind what the database recorded: data was lost outside shugu."""

    status = 500
    code = "table_storage_inconsistent"


def empty_file(message: str = "the file holds no data rows") -> InvalidInput:
    return InvalidInput(message, code="empty_file")


def not_csv(message: str, **details: Any) -> InvalidInput:
    return InvalidInput(message, code="not_csv", **details)


def encoding_error(message: str, **details: Any) -> InvalidInput:
    return InvalidInput(message, code="encoding_error", **details)


# The file is readable text but its CSV structure is wrong: 422, with the line where known.

def ragged_rows(line: int | None, expected: int, actual: int, text: str) -> Unprocessable:
    where = f"line {line}" if line is not None else "a row"
    return Unprocessable(
        f"{where} has {actual} fields where the header has {expected}: {text[:200]!r}",
        code="ragged_rows", line=line, expected_fields=expected, actual_fields=actual,
    )


def csv_parse_error(message: str, **details: Any) -> Unprocessable:
    return Unprocessable(message, code="csv_parse_error", **details)


def malformed_quote(line: int, problem: str) -> Unprocessable:
    return Unprocessable(f"line {line}: {problem}; a quoted field must end with a quote "
                         "followed by the delimiter or the end of the line",
                         code="malformed_quote", line=line)


def invalid_option(code: str, message: str, **details: Any) -> Unprocessable:
    return Unprocessable(message, code=code, **details)


def too_many_columns(count: int | str, limit: int) -> Unprocessable:
    return Unprocessable(f"the file has {count} columns; this exchange takes at most {limit} "
                         "per table (SHUGU_MAX_COLUMNS)", code="too_many_columns",
                         limit=limit)


def corrupt_file(message: str, **details: Any) -> InvalidInput:
    return InvalidInput(message, code="corrupt_file", **details)


def schema_conflict(column: str, existing: str, incoming: str, why: str = "") -> Conflict:
    message = (f"column {column!r} is {existing} in the table but {incoming} in the file"
               + (f": {why}" if why else ""))
    return Conflict(message, code="schema_conflict", column=column, existing_type=existing,
                    incoming_type=incoming)


def value_conflict(column: str, existing: str, value: str) -> Conflict:
    value = value if len(value) <= 200 else value[:200] + "…"  # a field may be megabytes
    return Conflict(f"column {column!r} is {existing} in the table but the file has "
                    f"the value {value!r} there", code="schema_conflict", column=column,
                    existing_type=existing, value=value)


def duplicate_column(name: str) -> InvalidInput:
    return InvalidInput(f"the column name {name!r} appears more than once",
                        code="duplicate_column", column=name)


def unsupported_type(column: str, type_name: str) -> InvalidInput:
    return InvalidInput(f"column {column!r} has type {type_name}, which Delta tables cannot hold",
                        code="unsupported_type", column=column, type=type_name)


def partition_column_missing(names: list[str]) -> InvalidInput:
    return InvalidInput(f"the table is partitioned by {names} but the file lacks "
                        f"{'them' if len(names) > 1 else 'it'}",
                        code="partition_column_missing", columns=names)


def concurrent_ingest(table: str) -> Conflict:
    return Conflict(f"table {table!r} changed while this ingest was running; nothing was "
                    "published, try again", code="concurrent_ingest")
