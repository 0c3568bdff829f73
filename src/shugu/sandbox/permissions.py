"""Who may do what in the sandbox: the one place the domain checks authorisation."""

from __future__ import annotations

from sqlalchemy.orm import Session

from shugu.catalog.models import Product
from shugu.entitlements import service as entitlements
from shugu.entitlements.models import Entitlement
from shugu.errors import Forbidden, NotFound
from shugu.identity.principal import Principal

MODE = "sandbox"


def check_rules_reader(session: Session, principal: Principal, product: Product) -> None:
    """Rules are read by the provider, the operator and consumers entitled to the sandbox."""
    if principal.org_id == product.provider_org_id or principal.is_operator:
        return
    sandbox_entitlement(session, principal, product)


def sandbox_entitlement(session: Session, principal: Principal, product: Product) -> Entitlement:
    return entitlements.live_entitlement(session, principal.org_id, product.id, MODE)


def check_provider(principal: Principal, product: Product) -> None:
    if principal.org_id != product.provider_org_id:
        raise Forbidden(f"product {product.slug!r} belongs to another organisation",
                        code="not_product_owner")


def own_record(principal: Principal, consumer_org_id: int | None, what: str,
               ident: int) -> None:
    """A consumer's queries, results and private tables are its own; anyone else gets 404."""
    if principal.org_id != consumer_org_id:
        raise NotFound(f"{what} {ident} does not exist", code=f"{what.replace(' ', '_')}_not_found")
