"""Portal operator pages, under /operator. Every action calls the domain's service with the
signed-in Principal; the domain decides who may do what."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shugu.api.deps import ExchangeDep
from shugu.portal.pages import not_found, render, signed_in

router = APIRouter()


@router.get("/operator")
def home(request: Request, ex: ExchangeDep) -> Response:
    who = signed_in(ex, request)
    if not (who.is_operator):
        return not_found(request, who)
    return render(request, "operator/home.html", who=who)
