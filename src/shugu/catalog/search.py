"""Catalog search (placeholder being replaced by the search index work)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shugu.catalog.models import Product
from shugu.catalog.schemas import ProductHit
from shugu.pagination import Page


def index_product(session: Session, product: Product) -> None:
    return None


def search(
    session: Session, *, q: str, provider_org_id: int | None, category: str | None,
    tag: str | None, limit: int | None, page_token: str | None,
) -> Page[ProductHit]:
    raise NotImplementedError
