"""REST endpoints: entitlements (grant, list, revoke) and Delta Sharing profiles."""

from __future__ import annotations

from datetime import UTC
from typing import Literal

from fastapi import APIRouter, Request, status

from shugu.api.deps import ExchangeDep, PrincipalDep
from shugu.api.limits import Id, QueryText
from shugu.entitlements import schemas
from shugu.entitlements import service as entitlements
from shugu.identity import schemas as id_schemas
from shugu.identity import service as identity

router = APIRouter(tags=["entitlements"])


@router.post("/entitlements", response_model=schemas.EntitlementOut,
             status_code=status.HTTP_201_CREATED)
def grant(body: schemas.EntitlementIn, ex: ExchangeDep,
          who: PrincipalDep) -> schemas.EntitlementOut:
    """A provider grants a consumer organisation the use of one of its products."""
    with ex.transaction() as s:
        return entitlements.to_out(s, entitlements.grant(s, who, body))


@router.get("/entitlements", response_model=list[schemas.EntitlementOut])
def list_entitlements(
    ex: ExchangeDep, who: PrincipalDep, role: Literal["consumer", "provider"] = "consumer",
    product: QueryText = None,
) -> list[schemas.EntitlementOut]:
    """As consumer: what the caller's organisation holds; as provider: what it granted."""
    with ex.read() as s:
        return [entitlements.to_out(s, e) for e in entitlements.list_for(s, who, role, product)]


@router.get("/entitlements/{entitlement_id}", response_model=schemas.EntitlementOut)
def get_entitlement(entitlement_id: Id, ex: ExchangeDep,
                    who: PrincipalDep) -> schemas.EntitlementOut:
    with ex.read() as s:
        return entitlements.to_out(s, entitlements.get(s, who, entitlement_id))


@router.post("/entitlements/{entitlement_id}/revoke", response_model=schemas.EntitlementOut)
def revoke(entitlement_id: Id, body: schemas.RevokeIn, ex: ExchangeDep,
           who: PrincipalDep) -> schemas.EntitlementOut:
    with ex.transaction() as s:
        return entitlements.to_out(s, entitlements.revoke(s, who, entitlement_id, body.reason))


@router.post("/sharing/profile", response_model=schemas.Profile,
             status_code=status.HTTP_201_CREATED)
def sharing_profile(body: schemas.ProfileIn, request: Request, ex: ExchangeDep,
                    who: PrincipalDep) -> schemas.Profile:
    """A Delta Sharing profile file (v1) with a new recipient token that can only read
    shares; its secret is shown only this once."""
    with ex.transaction() as s:
        token, secret = identity.create_token(
            s, who, id_schemas.TokenIn(name=body.name, expires_in_days=body.expires_in_days),
            ex.token_ttl, scope="sharing")
    expires = token.expires_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z") \
        if token.expires_at else None
    base = (ex.settings.public_url or str(request.base_url)).rstrip("/")
    return schemas.Profile(endpoint=f"{base}/delta-sharing",
                           bearerToken=secret, expirationTime=expires)
