"""Errors that are answers: a stable machine-readable code, an HTTP status and a message."""

from __future__ import annotations

from typing import Any


class ShuguError(Exception):
    """Base of every error shugu reports to a caller on purpose."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}


class InvalidInput(ShuguError):
    status = 400
    code = "invalid_input"


class Unauthenticated(ShuguError):
    status = 401
    code = "unauthenticated"


class Forbidden(ShuguError):
    status = 403
    code = "forbidden"


class NotFound(ShuguError):
    status = 404
    code = "not_found"


class Conflict(ShuguError):
    status = 409
    code = "conflict"


class TooLarge(ShuguError):
    status = 413
    code = "upload_too_large"


class Unprocessable(ShuguError):
    status = 422
    code = "unprocessable"


# SQLSTATEs of values the database cannot hold: numeric_value_out_of_range,
# character_not_in_repertoire, untranslatable_character, datetime_field_overflow.
_VALUE_SQLSTATES = {"22003", "22021", "22P05", "22008"}


def refusal_for(exc: BaseException) -> ShuguError | None:
    """A 422 for an input the database could not store, had it slipped past the declared
    ranges (a number beyond INTEGER/BIGINT, a NUL character): the last line of defence
    against a 500, not the first. None for any other exception."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OverflowError) or getattr(current, "sqlstate", None) \
                in _VALUE_SQLSTATES:
            return _out_of_range()
        if isinstance(current, ValueError) and "NUL" in str(current):
            return _out_of_range()
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return None


def _out_of_range() -> ShuguError:
    refusal = ShuguError("a value in the request is out of range or holds a character "
                         "that cannot be stored", code="value_out_of_range")
    refusal.status = 422
    return refusal
