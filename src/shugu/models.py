"""Every domain's tables, gathered so that Alembic sees one metadata."""

from shugu.catalog.models import DataTable, Ingest, Product, ProductTag, Revision, SearchTerm
from shugu.contracts.models import Agreement, Negotiation, NegotiationStep, Offer
from shugu.db import Base
from shugu.entitlements.models import Entitlement
from shugu.identity.models import ApiToken, Organization, User
from shugu.ledger.models import LedgerEvent, LedgerHead, LedgerNode, TreeHead
from shugu.metering.models import UsageRecord
from shugu.sandbox.dp.models import PrivacyBudget

__all__ = [
    "Agreement",
    "ApiToken",
    "Base",
    "DataTable",
    "Entitlement",
    "Ingest",
    "LedgerEvent",
    "LedgerHead",
    "LedgerNode",
    "Negotiation",
    "NegotiationStep",
    "Offer",
    "Organization",
    "PrivacyBudget",
    "Product",
    "ProductTag",
    "Revision",
    "SearchTerm",
    "TreeHead",
    "UsageRecord",
    "User",
]
