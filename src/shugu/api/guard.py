"""One guard in front of every API and Delta Sharing request, before any route runs.

It refuses, with the caller's error shape, what no endpoint can want and some backends
cannot store: bodies larger than SHUGU_MAX_JSON_BYTES (413 `body_too_large`; uploads have
their own streaming limit), NUL characters in the path, the query or any JSON string
(PostgreSQL text cannot hold them), non-finite numbers (NaN, Infinity, 1e400), integers
beyond a signed 64-bit number (SQLite's and BIGINT's limit) and JSON nested deeper than
MAX_DEPTH levels. Everything else about a body is the route's schema's business.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shugu.api.limits import INT64_MAX

MAX_DEPTH = 64
_BODY_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
_SHARING = "/delta-sharing"


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _bad_constant(name: str) -> Any:
    raise Refused(422, "non_finite_number", f"{name} is not a number this API accepts; "
                  "send finite numbers only")


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Refused(422, "non_finite_number",
                      f"{text[:40]} is beyond the range of a number; send finite numbers only")
    return value


def _int(text: str) -> int:
    # The length check comes first: Python refuses to parse more than 4300 digits at all.
    if len(text) > 20 or abs(value := int(text)) > INT64_MAX:
        raise Refused(422, "value_out_of_range",
                      f"{text[:40]} is beyond a 64-bit integer, the largest this API takes")
    return value


def check_json(raw: bytes) -> None:
    """Refuse what the module docstring lists; a body that is not JSON at all is left to
    the route (which answers 422 invalid_request)."""
    try:
        doc = json.loads(raw, parse_constant=_bad_constant, parse_float=_float,
                         parse_int=_int)
    except RecursionError:
        raise Refused(422, "nesting_too_deep",
                      f"the JSON body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError:
        return
    stack: list[tuple[Any, int, str]] = [(doc, 1, "body")]
    while stack:
        node, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            raise Refused(422, "nesting_too_deep",
                          f"the JSON body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, str):
            if "\x00" in node:
                raise Refused(422, "invalid_characters",
                              f"{where}: text may not contain NUL (\\u0000) characters")
        elif isinstance(node, dict):
            for key, value in node.items():
                if "\x00" in key:
                    raise Refused(422, "invalid_characters",
                                  f"{where}: a key contains a NUL (\\u0000) character")
                stack.append((value, depth + 1, f"{where}.{key}"))
        elif isinstance(node, list):
            stack.extend((v, depth + 1, f"{where}[{i}]") for i, v in enumerate(node))


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # FastAPI reads a body without a content type as JSON
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _has_nul(scope: Scope) -> bool:
    raw_path = scope.get("raw_path") or b""
    return ("\x00" in scope["path"] or b"\x00" in unquote_to_bytes(raw_path)
            or b"\x00" in unquote_to_bytes(scope.get("query_string") or b""))


class RequestGuard:
    """ASGI middleware; `uploads` lists (method, path regex) of the operations that stream
    their body to disk under SHUGU_MAX_UPLOAD_BYTES, exempt from the JSON limit."""

    def __init__(self, app: ASGIApp, *, max_json_bytes: int, prefixes: tuple[str, ...],
                 uploads: Callable[[], list[tuple[str, re.Pattern[str]]]]) -> None:
        self.app = app
        self.max_json_bytes = max_json_bytes
        self.prefixes = prefixes
        self._find_uploads = uploads
        self._uploads: list[tuple[str, re.Pattern[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        try:
            if _has_nul(scope):
                raise Refused(422, "invalid_characters",
                              "the address may not contain NUL (%00) characters")
            if scope["method"] in _BODY_METHODS and not self._is_upload(scope):
                receive = await self._checked_body(scope, receive)
        except Refused as refusal:
            await _answer(scope, refusal)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _is_upload(self, scope: Scope) -> bool:
        if self._uploads is None:  # read from the OpenAPI once the routes are all there
            self._uploads = self._find_uploads()
        return any(method == scope["method"] and pattern.match(scope["path"])
                   for method, pattern in self._uploads)

    async def _checked_body(self, scope: Scope, receive: Receive) -> Receive:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_json_bytes:
            raise _too_large(self.max_json_bytes)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                chunks.clear()
                replay: list[Message] = [message]
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_json_bytes:
                raise _too_large(self.max_json_bytes)
            chunks.append(chunk)
            if not message.get("more_body", False):
                body = b"".join(chunks)
                if body and _is_json(headers.get("content-type")):
                    check_json(body)
                replay = [{"type": "http.request", "body": body, "more_body": False}]
                break

        async def replayed() -> Message:
            if replay:
                return replay.pop(0)
            return await receive()

        return replayed


def _too_large(limit: int) -> Refused:
    return Refused(413, "body_too_large",
                   f"the request body is larger than {limit} bytes (SHUGU_MAX_JSON_BYTES)")


def _answer(scope: Scope, refusal: Refused) -> JSONResponse:
    if scope["path"].startswith(_SHARING):
        from shugu.sharing.errors import protocol_error

        return protocol_error(refusal.status, refusal.message, refusal.code)
    body = {"error": {"code": refusal.code, "message": refusal.message}}
    return JSONResponse(body, status_code=refusal.status)
