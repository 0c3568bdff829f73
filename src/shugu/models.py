"""Every domain's tables, gathered so that Alembic sees one metadata."""

from shugu.catalog.models import DataTable, Ingest, Product, ProductTag, Revision, SearchTerm
from shugu.db import Base
from shugu.identity.models import ApiToken, Organization, User
from shugu.ledger.models import LedgerEvent, LedgerHead, LedgerNode, TreeHead

__all__ = [
    "ApiToken",
    "Base",
    "DataTable",
    "Ingest",
    "LedgerEvent",
    "LedgerHead",
    "LedgerNode",
    "Organization",
    "Product",
    "ProductTag",
    "Revision",
    "SearchTerm",
    "TreeHead",
    "User",
]
