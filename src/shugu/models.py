"""Every domain's tables, gathered so that Alembic sees one metadata."""

from shugu.catalog.models import DataTable, Ingest, Product, ProductTag, Revision, SearchTerm
from shugu.db import Base
from shugu.entitlements.models import Entitlement
from shugu.identity.models import ApiToken, Organization, User
from shugu.ledger.models import LedgerEvent, LedgerHead, LedgerNode, TreeHead
from shugu.metering.models import UsageRecord

__all__ = [
    "ApiToken",
    "Base",
    "DataTable",
    "Entitlement",
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
    "UsageRecord",
    "User",
]
