"""Contracts fixtures: a provider's product, policies built from parts, error capture."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shugu.client import Client, ShuguAPIError
from tests.conftest import list_product

SLUG = "power-use"


def api_error(call: Callable[[], object]) -> ShuguAPIError:
    with pytest.raises(ShuguAPIError) as info:
        call()
    return info.value


def make_policy(*constraints: dict[str, Any], modes: list[str] | None = None,
                duty: bool = False, prohibit: tuple[str, ...] = ("distribute",)
                ) -> dict[str, Any]:
    perm: dict[str, Any] = {"action": "use", "constraint": [
        {"leftOperand": "deliveryMode", "operator": "isAnyOf",
         "rightOperand": modes or ["share"]}, *constraints]}
    if duty:
        perm["duty"] = [{"action": "delete"}]
    return {"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer",
            "permission": [perm], "prohibition": [{"action": a} for a in prohibit]}


def purpose(*codes: str) -> dict[str, Any]:
    return {"leftOperand": "purpose", "operator": "isAnyOf", "rightOperand": list(codes)}


def quota(n: int, unit: str = "queries") -> dict[str, Any]:
    return {"leftOperand": "count", "operator": "lteq", "rightOperand": n, "unit": unit}


@pytest.fixture
def product(provider: Client, operator: Client) -> str:
    provider.create_product(SLUG, "企业月度用电量", title_en="Monthly power use")
    list_product(provider, operator, SLUG)
    return SLUG


def offer(provider: Client, *constraints: dict[str, Any], plan: str = "one_time",
          price_fen: int = 100_00, approval: str = "instant", **kw: Any) -> int:
    policy = kw.pop("policy", None) or make_policy(*constraints)
    return provider.create_offer(SLUG, "标准报价", plan=plan, price_fen=price_fen,
                                 policy=policy, approval=approval, **kw).id
