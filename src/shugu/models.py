"""Every domain's tables, gathered so that Alembic sees one metadata."""

from shugu.billing.models import Invoice, InvoiceLine, Settlement, SettlementLine, Voucher
from shugu.catalog.models import DataTable, Ingest, Product, ProductTag, Revision, SearchTerm
from shugu.contracts.models import Agreement, Negotiation, NegotiationStep, Offer
from shugu.db import Base
from shugu.entitlements.models import Entitlement
from shugu.identity.models import ApiToken, Organization, User
from shugu.ledger.models import LedgerEvent, LedgerHead, LedgerNode, LedgerParty, TreeHead
from shugu.metering.models import UsageRecord
from shugu.review.models import Listing
from shugu.rights.models import (
    Certificate,
    Fingerprint,
    Licence,
    Objection,
    Pledge,
    ProofDocument,
    Registration,
)
from shugu.sandbox.dp.models import PrivacyBudget
from shugu.sandbox.models import (
    AnalysisRule,
    PrivateTable,
    QueryReview,
    QueryTemplate,
    SandboxQuery,
)

__all__ = [
    "Agreement",
    "AnalysisRule",
    "ApiToken",
    "Base",
    "Certificate",
    "DataTable",
    "Entitlement",
    "Fingerprint",
    "Ingest",
    "Invoice",
    "InvoiceLine",
    "LedgerEvent",
    "LedgerHead",
    "LedgerNode",
    "LedgerParty",
    "Licence",
    "Listing",
    "Negotiation",
    "NegotiationStep",
    "Objection",
    "Offer",
    "Organization",
    "Pledge",
    "PrivacyBudget",
    "PrivateTable",
    "Product",
    "ProductTag",
    "ProofDocument",
    "QueryReview",
    "QueryTemplate",
    "Registration",
    "Revision",
    "SandboxQuery",
    "SearchTerm",
    "Settlement",
    "SettlementLine",
    "TreeHead",
    "UsageRecord",
    "User",
    "Voucher",
]
