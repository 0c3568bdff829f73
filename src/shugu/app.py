"""FastAPI application assembly: every domain's router under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from shugu import __version__
from shugu.api import errors
from shugu.runtime import Exchange

API_PREFIX = "/api/v1"


def create_app(exchange: Exchange) -> FastAPI:
    from shugu.catalog.routes import router as catalog_router
    from shugu.identity.routes import router as identity_router
    from shugu.ledger.routes import router as ledger_router

    app = FastAPI(
        title="shugu (数谷) data exchange",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.exchange = exchange
    errors.install(app)
    api = APIRouter(prefix=API_PREFIX)

    @api.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    api.include_router(identity_router)
    api.include_router(catalog_router)
    api.include_router(ledger_router)
    app.include_router(api)
    return app
