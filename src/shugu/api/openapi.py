"""The OpenAPI document states every answer an operation can give, errors included.

Every /api/v1 operation may answer the common refusals (bad input, no or a bad token, not
allowed, not found, conflict, body too large, invalid request) in the error shape of
src/shugu/api/errors.py; Delta Sharing operations in the protocol's shape
(src/shugu/sharing/errors.py). They are added here, once, after the routes are built,
instead of on each route; FastAPI's own 422 schema (which this API never sends) is
replaced. Download routes declare their true content type with the response classes below.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response

COMMON = {
    400: "Bad input (a stable code says what)",
    401: "No token, or one that is invalid, expired or revoked",
    403: "The caller may not do this",
    404: "No such thing, or one the caller may not see",
    409: "Conflicts with the current state",
    413: "The request body is too large",
    422: "The request does not match the declared schema, ranges or lengths",
}
UPLOAD_ERRORS = {415: "The file's format is not supported"}

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {
            "code": {"type": "string", "description": "stable, machine-readable"},
            "message": {"type": "string", "description": "for people"},
            "details": {"type": "object"},
        },
    }},
}
SHARING_ERROR_SCHEMA: dict[str, Any] = {
    "title": "SharingError",
    "type": "object",
    "required": ["errorCode", "message"],
    "properties": {
        "errorCode": {"type": "string", "description": "the Delta Sharing protocol's code"},
        "message": {"type": "string"},
        "shuguCode": {"type": "string", "description": "shugu's stable code, when known"},
    },
}


class CSVResponse(Response):
    media_type = "text/csv"


class NDJSONResponse(Response):
    media_type = "application/x-ndjson"


def binary(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    """`responses=` of a route answering a file of `media_type` (`*/*`: as uploaded)."""
    return {200: {"description": description,
                  "content": {media_type: {"schema": {"type": "string", "format": "binary"}}}}}


def _is_upload(operation: dict[str, Any]) -> bool:
    """An operation that streams an uploaded file from its body (declared octet-stream)."""
    content = (operation.get("requestBody") or {}).get("content") or {}
    return "application/octet-stream" in content


def uploads(doc: dict[str, Any]) -> list[tuple[str, re.Pattern[str]]]:
    """(METHOD, path regex) of every upload operation of the OpenAPI document `doc`."""
    found = []
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and _is_upload(operation):
                pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path))
                found.append((method.upper(), re.compile(f"^{pattern}$")))
    return found


def _error(ref: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": ref}}}}


def document(app: FastAPI, api_prefix: str, sharing_prefix: str) -> dict[str, Any]:
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                         description=app.description)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    components["SharingError"] = SHARING_ERROR_SCHEMA
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path, item in schema.get("paths", {}).items():
        sharing = path.startswith(sharing_prefix)
        ref = "#/components/schemas/" + ("SharingError" if sharing else "Error")
        for operation in item.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            errors = dict(COMMON)
            if sharing:
                errors.pop(422)  # the protocol knows 400 only
            if _is_upload(operation):
                errors.update(UPLOAD_ERRORS)
            if not path.startswith((api_prefix, sharing_prefix)):
                continue
            for status, description in errors.items():
                responses[str(status)] = _error(ref, description)
    return schema


def install(app: FastAPI, api_prefix: str, sharing_prefix: str) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app, api_prefix, sharing_prefix)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
