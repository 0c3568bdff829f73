"""REST endpoint: usage records (consumers see their own, providers their buyers')."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter

from shugu.api.deps import ExchangeDep, PrincipalDep
from shugu.api.limits import IdFilter, Limit, PageToken
from shugu.metering import service as metering
from shugu.metering.schemas import UsageOut
from shugu.pagination import Page

router = APIRouter(tags=["metering"])


@router.get("/usage", response_model=Page[UsageOut])
def list_usage(
    ex: ExchangeDep, who: PrincipalDep, role: Literal["consumer", "provider"] = "consumer",
    entitlement_id: IdFilter = None, limit: Limit = None, page_token: PageToken = None,
) -> Page[UsageOut]:
    with ex.read() as s:
        return metering.list_usage(s, who, role, entitlement_id, limit, page_token)
