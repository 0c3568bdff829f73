"""FastAPI application assembly: every domain's router under /api/v1."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi_offline import FastAPIOffline

from shugu import __version__
from shugu.api import errors, openapi
from shugu.api.guard import RequestGuard
from shugu.runtime import Exchange

API_PREFIX = "/api/v1"
DOCS_ASSETS = f"{API_PREFIX}/docs-assets"
log = logging.getLogger("shugu")


def sign_tree_head(exchange: Exchange) -> None:
    """Commit the platform key to the ledger as it stands (no-op when unchanged)."""
    from shugu.ledger import tree_heads

    tree_heads.current_signed(exchange)


async def _sign_periodically(exchange: Exchange, interval: float) -> None:
    # Events after the last signed tree head are covered by no signature; signing on a
    # timer bounds that window without putting a signature on every write.
    while True:
        await asyncio.sleep(interval)
        try:
            await run_in_threadpool(sign_tree_head, exchange)
        except Exception:
            log.exception("signing the ledger tree head failed")


def clean_up_interrupted_work(exchange: Exchange) -> None:
    """Remove what a killed server left behind: partial uploads and unpublished Delta files."""
    from shugu.catalog import uploads
    from shugu.catalog.ingest import service as ingest

    try:
        uploads.sweep(exchange.settings.uploads_dir)
    except OSError:  # an unreadable uploads folder must not keep the exchange down
        log.exception("could not clean the uploads folder")
    repaired = ingest.recover(exchange)
    if repaired:
        log.warning("cut back %d table(s) left mid-ingest: %s", len(repaired), repaired)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    exchange: Exchange = app.state.exchange
    await run_in_threadpool(clean_up_interrupted_work, exchange)
    interval = exchange.settings.sth_interval_seconds
    task = asyncio.create_task(_sign_periodically(exchange, interval)) if interval > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
        await run_in_threadpool(sign_tree_head, exchange)


def create_app(exchange: Exchange) -> FastAPI:
    from shugu.billing.routes import router as billing_router
    from shugu.catalog.routes import router as catalog_router
    from shugu.contracts.routes import router as contracts_router
    from shugu.entitlements.routes import router as entitlements_router
    from shugu.identity.routes import router as identity_router
    from shugu.ledger.routes import router as ledger_router
    from shugu.metering.routes import router as metering_router
    from shugu.portal.routes import router as portal_router
    from shugu.review.routes import router as review_router
    from shugu.rights.routes import router as rights_router
    from shugu.sandbox.routes import router as sandbox_router
    from shugu.sharing.routes import PREFIX as SHARING_PREFIX
    from shugu.sharing.routes import router as sharing_router

    # Swagger UI and ReDoc from fastapi-offline's packaged assets, served by shugu itself:
    # the API docs render on a machine without internet, and no other origin sees who
    # reads them. The validator badge would fetch from swagger.io: off.
    app = FastAPIOffline(
        title="shugu (数谷) data exchange",
        version=__version__,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=f"{API_PREFIX}/redoc",
        static_url=DOCS_ASSETS,
        swagger_ui_parameters={"validatorUrl": None},
        lifespan=_lifespan,
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
    api.include_router(entitlements_router)
    api.include_router(metering_router)
    api.include_router(billing_router)
    api.include_router(rights_router)
    api.include_router(contracts_router)
    api.include_router(review_router)
    api.include_router(sandbox_router)
    app.include_router(api)
    app.include_router(sharing_router)
    app.include_router(portal_router)
    app.add_middleware(RequestGuard, max_json_bytes=exchange.settings.max_json_bytes,
                       prefixes=(API_PREFIX, SHARING_PREFIX),
                       uploads=lambda: openapi.uploads(app.openapi()))
    openapi.install(app, API_PREFIX, SHARING_PREFIX)
    return app
