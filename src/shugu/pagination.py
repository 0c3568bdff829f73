"""One pagination style for every list: `limit` and an opaque `page_token`."""

from __future__ import annotations

import base64
from typing import Generic, TypeVar

from pydantic import BaseModel

from shugu.errors import InvalidInput

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
# An offset or key beyond this is no token this server issued (and would overflow the
# database's BIGINT / SQLite's INTEGER once the limit is added).
MAX_OFFSET = 2**62


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_page_token: str | None = None
    total: int | None = None


def decode_token(token: str | None) -> int:
    if not token:
        return 0
    if len(token) > 100:
        raise InvalidInput("page_token is not one this server issued", code="invalid_page_token")
    try:
        raw = base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4)).decode()
        kind, value = raw.split(":", 1)
        offset = int(value)
    except ValueError as exc:
        raise InvalidInput("page_token is not one this server issued",
                           code="invalid_page_token") from exc
    if kind != "o" or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput("page_token is not one this server issued", code="invalid_page_token")
    return offset


def encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", code="invalid_limit")
    return limit


def next_token(offset: int, limit: int, returned: int, total: int | None = None) -> str | None:
    """Token for the next page; callers fetch limit + 1 rows to know whether one exists."""
    if total is not None:
        return encode_token(offset + limit) if offset + limit < total else None
    return encode_token(offset + limit) if returned > limit else None
