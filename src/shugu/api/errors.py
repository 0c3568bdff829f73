"""Every error leaves the API as {"error": {"code", "message"}} with a 4xx/5xx status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shugu.errors import NotFound, ShuguError, refusal_for
from shugu.portal import pages

log = logging.getLogger("shugu.api")

_HTTP_CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 406: "not_acceptable", 409: "conflict", 413: "upload_too_large",
    415: "unsupported_media_type", 422: "invalid_request", 429: "too_many_requests",
}


def error_body(code: str, message: str, **details: object) -> dict[str, object]:
    body: dict[str, object] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def install(app: FastAPI) -> None:
    @app.exception_handler(ShuguError)
    async def _shugu(request: Request, exc: ShuguError) -> Response:
        if pages.is_portal(request):  # a refusal inside a portal page is a page
            return pages.error_response(request, exc)
        return JSONResponse(exc.to_dict(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            problems.append(f"{where}: {err.get('msg')}")
        message = "; ".join(problems) or "invalid request"
        if pages.is_portal(request):
            # A malformed portal address (say /operator/listings/abc) names no page.
            if any(err.get("loc", ("",))[0] == "path" for err in exc.errors()):
                return pages.error_response(request, NotFound(message))
            refusal = ShuguError(message, code="invalid_request")
            refusal.status = 422
            return pages.error_response(request, refusal)
        return JSONResponse(error_body("invalid_request", message), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404 and message == "Not Found":
            message = "no such endpoint"
        if pages.is_portal(request) and exc.status_code in (404, 405):
            refusal = NotFound(message) if exc.status_code == 404 else \
                ShuguError(message, code=code)
            refusal.status = exc.status_code
            return pages.error_response(request, refusal)
        return JSONResponse(error_body(code, message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    pages.install(app)

    # Handled here, not by the catch-all below (Starlette re-raises from that one, which
    # drops the connection): what the database refused to store is a 422.
    async def _stored_value(request: Request, exc: Exception) -> Response:
        refusal = refusal_for(exc)
        if refusal is None:
            raise exc
        # A value the declared ranges should have refused: answer 422, but say so.
        log.warning("input refused by the database: %s %s: %s", request.method,
                    request.url.path, exc)
        if pages.is_portal(request):
            return pages.error_response(request, refusal)
        return JSONResponse(refusal.to_dict(), status_code=refusal.status)

    for kind in (OverflowError, ValueError, DBAPIError):
        app.add_exception_handler(kind, _stored_value)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return JSONResponse(error_body("internal_error", "an internal error occurred"),
                            status_code=500)
