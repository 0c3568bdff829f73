"""Errors in the Delta Sharing shape, {"errorCode", "message"}, on the protocol's paths only.

The rest of the API answers {"error": {...}}; clients of this protocol expect its own shape.
A route class catches errors where the handler (and its dependencies) run, so the app-wide
handlers never see them. Client mistakes must stay 4xx: the official client retries every
5xx ten times with doubling back-off.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from shugu.errors import ShuguError, refusal_for

log = logging.getLogger("shugu.sharing")

_CODES = {
    400: "INVALID_PARAMETER_VALUE",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "RESOURCE_DOES_NOT_EXIST",
    405: "METHOD_NOT_ALLOWED",
    409: "RESOURCE_CONFLICT",
    413: "REQUEST_TOO_LARGE",
    416: "REQUESTED_RANGE_NOT_SATISFIABLE",
    422: "INVALID_PARAMETER_VALUE",
    429: "RESOURCE_EXHAUSTED",
}


def protocol_error(status: int, message: str, detail_code: str | None = None) -> JSONResponse:
    # 422 is FastAPI's idea; the protocol knows only 400 for malformed requests.
    status = 400 if status == 422 else status
    body = {"errorCode": _CODES.get(status, "INTERNAL_ERROR"), "message": message}
    if detail_code:
        body["shuguCode"] = detail_code
    return JSONResponse(body, status_code=status)


def to_response(exc: Exception) -> JSONResponse:
    if isinstance(exc, ShuguError):
        return protocol_error(exc.status, exc.message, exc.code)
    if isinstance(exc, RequestValidationError):
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where}: {err.get('msg')}")
        return protocol_error(400, "; ".join(problems) or "invalid request")
    if isinstance(exc, StarletteHTTPException):
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        return protocol_error(exc.status_code, message)
    refusal = refusal_for(exc)
    if refusal is not None:
        log.warning("input refused by the database: %s", exc)
        return protocol_error(refusal.status, refusal.message, refusal.code)
    log.exception("unhandled error in Delta Sharing", exc_info=exc)
    return JSONResponse({"errorCode": "INTERNAL_ERROR", "message": "an internal error occurred"},
                        status_code=500)


class SharingRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await inner(request)
            except Exception as exc:  # every error leaves in the protocol's shape
                return to_response(exc)

        return handler
