"""Portal consumer pages, under /consumer. Every action calls the domain's service with the
signed-in Principal; the domain decides who may do what."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shugu.api.deps import ExchangeDep
from shugu.portal.pages import not_found, render, signed_in

router = APIRouter()


@router.get("/consumer")
def home(request: Request, ex: ExchangeDep) -> Response:
    who = signed_in(ex, request)
    if "consumer" not in who.org_roles:
        return not_found(request, who)
    return render(request, "consumer/home.html", who=who)
