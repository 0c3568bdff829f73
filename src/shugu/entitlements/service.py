"""Granting, revoking, checking and debiting entitlements.

Every delivery path (Delta Sharing, the sandbox) calls `live_entitlement` (or `debit_live`)
or `check_live` and `debit` inside the transaction that authorises its work, so a revocation
or an exhausted quota takes effect at the very next request and concurrency cannot
overspend.

**Precedence.** A consumer may hold several live entitlements on one product (a subscription
and a per-query plan, say). A use is charged to exactly one, chosen the same way on every
path (`precedence`, `choose`): among the live entitlements that allow the delivery mode,
those with room in every quota the use debits come first; among them the cheapest for the
consumer — no marginal cost (a direct grant, a one-time purchase, a subscription, or a
metered plan priced 0) before per-unit plans (per query, per 1,000 rows, per GB, each
priced per its own unit), then the lower unit price, then the older entitlement. When none
has room, the first by the same order is returned, so the debit refuses with
`quota_exceeded` naming its quotas, and visibility never depends on quotas.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from shugu.catalog.models import Product
from shugu.catalog.permissions import as_party, find_product, owned_product
from shugu.db import utcnow
from shugu.entitlements import schemas
from shugu.entitlements.models import QUOTA_KINDS, Entitlement
from shugu.errors import Conflict, Forbidden, InvalidInput, NotFound
from shugu.identity.models import Organization
from shugu.identity.principal import Principal
from shugu.ledger import service as ledger


def _payload(e: Entitlement, slug: str) -> dict[str, object]:
    return {"id": e.id, "consumer_org_id": e.consumer_org_id, "product": slug,
            "modes": list(e.modes), "valid_from": e.valid_from, "valid_until": e.valid_until,
            "quotas": {k: getattr(e, f"quota_{k}") for k in QUOTA_KINDS}, "source": e.source,
            "agreement_id": e.agreement_id}


def create(
    session: Session, *, actor: str, consumer_org_id: int, product: Product, modes: list[str],
    valid_from: datetime | None, valid_until: datetime | None, quotas: schemas.Quotas,
    source: str, agreement_id: int | None = None, granted_by_user_id: int | None = None,
    note: str | None = None, plan: str | None = None, unit_price_fen: int | None = None,
) -> Entitlement:
    """The one way an entitlement comes to exist: a provider's grant or an agreement."""
    consumer = session.get(Organization, consumer_org_id)
    if consumer is None:
        raise NotFound(f"organisation {consumer_org_id} does not exist",
                       code="organization_not_found")
    if "consumer" not in consumer.roles:
        raise InvalidInput(f"organisation {consumer_org_id} does not hold the consumer role",
                           code="not_a_consumer")
    if consumer.id == product.provider_org_id:
        raise InvalidInput("a provider does not need an entitlement to its own product",
                           code="own_product")
    start = valid_from or utcnow()
    if valid_until is not None and valid_until <= start:
        raise InvalidInput("valid_until must be after valid_from", code="invalid_window")
    entitlement = Entitlement(
        consumer_org_id=consumer.id, product_id=product.id, modes=sorted(set(modes)),
        valid_from=start, valid_until=valid_until, source=source, agreement_id=agreement_id,
        granted_by_user_id=granted_by_user_id, note=note, created_at=utcnow(), plan=plan,
        unit_price_fen=unit_price_fen,
        used_queries=0, used_rows=0, used_bytes=0, used_downloads=0,
        **{f"quota_{k}": getattr(quotas, k) for k in QUOTA_KINDS},
    )
    session.add(entitlement)
    session.flush()
    ledger.append(session, actor=actor, action="entitlement.granted",
                  subject=f"entitlement:{entitlement.id}",
                  payload=_payload(entitlement, product.slug))
    return entitlement


def grant(session: Session, principal: Principal, data: schemas.EntitlementIn) -> Entitlement:
    """A provider grants a consumer direct use of its product (before contracts exist)."""
    product = owned_product(session, principal, data.product)
    return create(session, actor=principal.actor, consumer_org_id=data.consumer_org_id,
                  product=product, modes=list(data.modes), valid_from=data.valid_from,
                  valid_until=data.valid_until, quotas=data.quotas, source="direct",
                  granted_by_user_id=principal.user_id, note=data.note)


def _visible(session: Session, principal: Principal, entitlement_id: int) -> Entitlement:
    """The entitlement, if the caller is its consumer or the product's provider."""
    e = session.get(Entitlement, entitlement_id)
    if e is not None:
        product = session.get(Product, e.product_id)
        assert product is not None
        if principal.org_id in (e.consumer_org_id, product.provider_org_id) or \
                principal.is_operator:
            return e
    raise NotFound(f"entitlement {entitlement_id} does not exist", code="entitlement_not_found")


def as_provider(session: Session, principal: Principal, entitlement_id: int) -> Entitlement:
    """The entitlement, if the caller's organisation provides its product (the consumer:
    403; anyone else: 404)."""
    e = _visible(session, principal, entitlement_id)
    product = session.get(Product, e.product_id)
    assert product is not None
    if principal.org_id != product.provider_org_id:
        raise Forbidden("only the product's provider may change this entitlement",
                        code="not_product_owner")
    return e


def revoke(session: Session, principal: Principal, entitlement_id: int,
           reason: str) -> Entitlement:
    e = _visible(session, principal, entitlement_id)
    product = session.get(Product, e.product_id)
    assert product is not None
    if principal.org_id != product.provider_org_id and not principal.is_operator:
        raise Forbidden("only the product's provider may revoke this entitlement",
                        code="not_product_owner")
    return end(session, e, actor=principal.actor, reason=reason)


def end(session: Session, e: Entitlement, *, actor: str, reason: str) -> Entitlement:
    """Revoke without an authorisation check: for callers that made their own (a party
    terminating the agreement that created the entitlement)."""
    if e.revoked_at is not None:
        raise Conflict(f"entitlement {e.id} is already revoked", code="entitlement_revoked")
    e.revoked_at = utcnow()
    e.revoke_reason = reason
    ledger.append(session, actor=actor, action="entitlement.revoked",
                  parties=[e.consumer_org_id], subject=f"entitlement:{e.id}",
                  payload={"id": e.id, "reason": reason})
    return e


def get(session: Session, principal: Principal, entitlement_id: int) -> Entitlement:
    return _visible(session, principal, entitlement_id)


def list_for(session: Session, principal: Principal, role: str,
             product: str | None = None) -> list[Entitlement]:
    """The caller's entitlements as consumer ("consumer") or granted on its products."""
    query = as_party(select(Entitlement).order_by(Entitlement.id),
                     Entitlement.consumer_org_id, Entitlement.product_id, principal, role)
    if product is not None:
        query = query.where(Entitlement.product_id == find_product(session, product).id)
    return list(session.scalars(query))


def is_live(e: Entitlement, mode: str, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (e.revoked_at is None and mode in e.modes and e.valid_from <= now
            and (e.valid_until is None or now < e.valid_until))


def _live_clause(now: datetime) -> list[object]:
    return [Entitlement.revoked_at.is_(None), Entitlement.valid_from <= now,
            or_(Entitlement.valid_until.is_(None), Entitlement.valid_until > now)]


# Plans that charge the consumer per unit used; every other plan (and a direct grant) is
# paid up front or free, so one more use of it costs nothing.
METERED_PLANS = ("per_query", "per_1000_rows", "per_gb")
# What one use debits at least, per mode: a sandbox query one query; a Delta Sharing
# /query or /changes answer one query and one download (docs/sharing.md).
BASE_NEED: dict[str, dict[str, int]] = {"share": {"queries": 1, "downloads": 1},
                                        "sandbox": {"queries": 1}}


def precedence(e: Entitlement) -> tuple[int, int, int]:
    """Sort key, cheapest for the consumer first: (has a marginal cost, unit price, id)."""
    price = e.unit_price_fen or 0
    if e.plan in METERED_PLANS and price > 0:
        return (1, price, e.id)
    return (0, 0, e.id)


def has_room(e: Entitlement, need: Mapping[str, int]) -> bool:
    """Every quota the use debits (need > 0) is unlimited or holds `need` more."""
    for kind, n in need.items():
        quota = getattr(e, f"quota_{kind}")
        if n > 0 and quota is not None and getattr(e, f"used_{kind}") + n > quota:
            return False
    return True


def choose(candidates: list[Entitlement], need: Mapping[str, int]) -> Entitlement | None:
    """The entitlement a use is charged to (see the module's docstring)."""
    ordered = sorted(candidates, key=precedence)
    for e in ordered:
        if has_room(e, need):
            return e
    return ordered[0] if ordered else None


def _need(mode: str, **extra: int) -> dict[str, int]:
    need = dict(BASE_NEED.get(mode, {"queries": 1}))
    for kind, n in extra.items():
        need[kind] = need.get(kind, 0) + n
    return need


def _writing(session: Session) -> bool:
    """Is this session a write transaction (runtime.Exchange.transaction)?"""
    return bool(session.get_bind().get_execution_options().get("shugu_writer"))


def live_products(session: Session, org_id: int, mode: str) -> list[tuple[Entitlement, Product]]:
    """Products the organisation may use in `mode` now, each with the entitlement one use
    would be charged to (`choose` with the mode's base need)."""
    now = utcnow()
    rows = session.execute(
        select(Entitlement, Product).join(Product, Product.id == Entitlement.product_id)
        .where(Entitlement.consumer_org_id == org_id, *_live_clause(now))  # type: ignore[arg-type]
        .order_by(Product.slug, Entitlement.id)
    ).all()
    grouped: dict[int, tuple[Product, list[Entitlement]]] = {}
    for e, p in rows:
        if mode in e.modes:
            grouped.setdefault(p.id, (p, []))[1].append(e)
    need = _need(mode)
    out = []
    for p, candidates in grouped.values():
        chosen = choose(candidates, need)
        assert chosen is not None
        out.append((chosen, p))
    return out


def live_entitlement(session: Session, org_id: int, product_id: int, mode: str, *,
                     rows: int = 0, bytes: int = 0) -> Entitlement:
    """The live entitlement a use of the product in `mode` is charged to: room for the
    mode's base need plus `rows` and `bytes`, cheapest first (module docstring).

    Inside a write transaction the candidates are locked (SELECT ... FOR UPDATE, in id
    order) and read afresh, so the choice and the debit that follows in the same
    transaction see the same quotas: two concurrent uses never both pick the last unit of
    one entitlement while another has room. (SQLite's write transactions are serial.)"""
    return _choose_live(session, org_id, product_id, mode, _need(mode, rows=rows, bytes=bytes))


def debit_live(session: Session, org_id: int, product_id: int, mode: str, *,
               queries: int = 0, rows: int = 0, bytes: int = 0,
               downloads: int = 0) -> Entitlement:
    """Choose the entitlement for exactly this use and debit it, both in the caller's write
    transaction; returns the entitlement charged, for the usage records."""
    need = {"queries": queries, "rows": rows, "bytes": bytes, "downloads": downloads}
    e = _choose_live(session, org_id, product_id, mode, need)
    return debit(session, e.id, **need)


def _choose_live(session: Session, org_id: int, product_id: int, mode: str,
                 need: Mapping[str, int]) -> Entitlement:
    query = (select(Entitlement)
             .where(Entitlement.consumer_org_id == org_id, Entitlement.product_id == product_id,
                    *_live_clause(utcnow()))  # type: ignore[arg-type]
             .order_by(Entitlement.id))
    if _writing(session):
        query = query.with_for_update().execution_options(populate_existing=True)
    chosen = choose([e for e in session.scalars(query) if mode in e.modes], need)
    if chosen is None:
        raise Forbidden(f"no live {mode} entitlement to this product", code="not_entitled")
    return chosen


def check_live(session: Session, entitlement_id: int, mode: str) -> Entitlement:
    """For work already authorised once (a signed file URL): is the right still live?"""
    e = session.get(Entitlement, entitlement_id)
    if e is None:
        raise NotFound("entitlement not found", code="entitlement_not_found")
    if e.revoked_at is not None:
        raise Forbidden("the entitlement has been revoked", code="entitlement_revoked")
    if not is_live(e, mode):
        raise Forbidden("the entitlement is not valid now", code="entitlement_expired")
    return e


def debit(session: Session, entitlement_id: int, *, queries: int = 0, rows: int = 0,
          bytes: int = 0, downloads: int = 0, force: bool = False) -> Entitlement:
    """Add usage in one conditional UPDATE: it succeeds only if every quota still holds,
    so concurrent requests can never together exceed a quota. `force` counts usage that
    already happened (bytes sent under an earlier authorisation) even past the quota."""
    amounts = {"queries": queries, "rows": rows, "bytes": bytes, "downloads": downloads}
    conditions = []
    values = {}
    for kind, n in amounts.items():
        if n < 0:
            raise InvalidInput("usage cannot be negative", code="invalid_usage")
        if n and force:
            values[f"used_{kind}"] = getattr(Entitlement, f"used_{kind}") + n
        elif n:
            used, quota = getattr(Entitlement, f"used_{kind}"), getattr(Entitlement,
                                                                         f"quota_{kind}")
            conditions.append(or_(quota.is_(None), used + n <= quota))
            values[f"used_{kind}"] = used + n
    e = session.get(Entitlement, entitlement_id)
    if e is None:
        raise NotFound("entitlement not found", code="entitlement_not_found")
    if not values:
        return e
    result = session.execute(
        update(Entitlement).where(Entitlement.id == entitlement_id, *conditions)
        .values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        exhausted = [k for k, n in amounts.items() if n and getattr(e, f"quota_{k}") is not None]
        raise Forbidden(f"the entitlement's quota is exhausted ({', '.join(exhausted)})",
                        code="quota_exceeded", quotas=exhausted)
    session.refresh(e)
    return e


def to_out(session: Session, e: Entitlement) -> schemas.EntitlementOut:
    product = session.get(Product, e.product_id)
    assert product is not None
    return schemas.EntitlementOut(
        id=e.id, consumer_org_id=e.consumer_org_id, product=product.slug,
        provider_org_id=product.provider_org_id, modes=list(e.modes), valid_from=e.valid_from,
        valid_until=e.valid_until, source=e.source, agreement_id=e.agreement_id, note=e.note,
        created_at=e.created_at, revoked_at=e.revoked_at, revoke_reason=e.revoke_reason,
        quotas=schemas.Quotas(**{k: getattr(e, f"quota_{k}") for k in QUOTA_KINDS}),
        used=schemas.Quotas(**{k: getattr(e, f"used_{k}") for k in QUOTA_KINDS}),
        plan=e.plan, unit_price_fen=e.unit_price_fen,
        live=e.revoked_at is None and (e.valid_until is None or utcnow() < e.valid_until),
    )
