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
