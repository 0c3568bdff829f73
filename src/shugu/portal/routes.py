"""Portal pages. Every read goes through the domain's own service functions with the
signed-in Principal, so the portal shows exactly what the API would."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from shugu.api.deps import ExchangeDep
from shugu.catalog import products, search
from shugu.contracts import offers
from shugu.errors import Forbidden, NotFound, ShuguError, Unauthenticated
from shugu.identity import service as identity
from shugu.identity.principal import ANONYMOUS
from shugu.portal import account, auditor, consumer, i18n, operator, provider
from shugu.portal import session as sessions
from shugu.portal.pages import (
    HERE,
    done,
    failure,
    posted,
    render,
    signed_in,
    to_login,
    validated,
)
from shugu.review import sample
from shugu.review import service as review
from shugu.rights import certificates, notices, registrations
from shugu.rights.models import RIGHTS
from shugu.rights.schemas import ObjectionIn

STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
STATIC_NAME = re.compile(r"^[a-z0-9-]+\.(css|js|svg)$")  # no paths, no dotfiles
PAGE_SIZE = 20

router = APIRouter(include_in_schema=False)
router.include_router(account.router)
router.include_router(provider.router)
router.include_router(consumer.router)
router.include_router(operator.router)
router.include_router(auditor.router)


@router.get("/static/{name}")
def static(name: str) -> Response:
    file = HERE / "static" / name
    if not STATIC_NAME.match(name) or not file.is_file():
        return Response(status_code=404)
    return FileResponse(file, media_type=STATIC_TYPES[file.suffix],
                        headers={"Cache-Control": "public, max-age=3600"})


@router.get("/lang/{lang}")
def switch_language(lang: str, request: Request, next: str | None = None) -> Response:
    response = RedirectResponse(sessions.safe_next(next), status_code=303)
    if lang in i18n.MESSAGES:
        sessions.set_cookie(request, response, i18n.COOKIE, lang, max_age=365 * 86400)
    return response


def _login_page(request: Request, status_code: int = 200, error: str | None = None,
                username: str = "") -> HTMLResponse:
    token = sessions.new_login_csrf()
    response = render(request, "login.html", status_code, error=error, username=username,
                      login_csrf=token, next=sessions.safe_next(request.query_params.get("next")))
    sessions.set_cookie(request, response, sessions.LOGIN_CSRF_COOKIE, token)
    return response


@router.get("/login")
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/login")
async def login(request: Request, ex: ExchangeDep) -> Response:
    form = await sessions.form(request)
    if not sessions.csrf_ok(request.cookies.get(sessions.LOGIN_CSRF_COOKIE),
                            form.get(sessions.CSRF_FIELD)):
        return _login_page(request, 403, error="csrf.failed")
    username = form.get("username", "")
    try:
        with ex.transaction() as s:
            _token, secret = identity.login(s, username, form.get("password", ""),
                                            sessions.SESSION_TTL)
    except Unauthenticated:
        return _login_page(request, 401, error="login.failed", username=username)
    response = RedirectResponse(sessions.safe_next(form.get("next")), status_code=303)
    sessions.set_cookie(request, response, sessions.SESSION_COOKIE, secret)
    response.delete_cookie(sessions.LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request, ex: ExchangeDep) -> Response:
    who = sessions.principal(ex, request)
    if who is None:
        return to_login(request)
    form = await sessions.form(request)
    secret = sessions.session_secret(request)
    assert secret is not None
    if not sessions.csrf_ok(sessions.csrf_for(secret), form.get(sessions.CSRF_FIELD)):
        return render(request, "error.html", 403, who=who, title="csrf.failed",
                      body="csrf.failed")
    assert who.token_id is not None
    with ex.transaction() as s:
        identity.revoke_token(s, who, who.token_id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(sessions.SESSION_COOKIE, path="/")
    return response


def _public(request: Request, who: object, response: Response) -> Response:
    """A public page seen without a live session: a dead session cookie (expired, revoked,
    forged) is dropped, as the sign-in redirect does on the other pages."""
    if who is None and sessions.session_secret(request):
        response.delete_cookie(sessions.SESSION_COOKIE, path="/")
    return response


@router.get("/")
def catalog(request: Request, ex: ExchangeDep, q: str = "", category: str = "",
            tag: str = "", page_token: str | None = None) -> Response:
    """The public catalogue: anyone may browse and search the listed products."""
    who = sessions.principal(ex, request)
    with ex.read() as s:
        page = search.search(s, q=q, provider_org_id=None, category=category or None,
                             tag=tag or None, limit=PAGE_SIZE, page_token=page_token)
        # The provider's own drafts and products under review are not in the public
        # search; list_products shows them to their owner.
        mine = products.list_products(s, who, who.org_id, PAGE_SIZE, None).items \
            if who is not None and "provider" in who.org_roles else []
    mine = [p for p in mine if p.status != "listed"]
    return _public(request, who, render(request, "catalog.html", who=who, page=page,
                                        mine=mine, q=q, category=category, tag=tag))


@router.get("/products/{slug}")
def product(slug: str, request: Request, ex: ExchangeDep) -> Response:
    """A product page: public for a listed product (sample rows only for signed-in
    organisations), 404 for anything the visitor may not see, as in the API."""
    who = sessions.principal(ex, request)
    viewer = who or ANONYMOUS
    try:
        with ex.read() as s:
            out = products.product_out(s, products.get_product(s, viewer, slug))
            try:
                listing = review.product_listing(s, viewer, slug)
            except NotFound:
                listing = None
            offer_list = [offers.to_out(s, o) for o in offers.list_for_product(s, viewer, slug)]
            certs = [certificates.public_status(s, c)
                     for c in certificates.for_product(s, out.id)]
            preview, withheld = None, "sign_in"
            if who is not None:
                try:
                    preview, withheld = sample.product_sample(
                        s, who, ex.settings.tables_dir, slug), None
                except Forbidden as refusal:
                    preview, withheld = None, refusal.code
    except NotFound:
        return render(request, "error.html", 404, who=who, title="notfound.title",
                      body="notfound.body")
    return _public(request, who, render(
        request, "product.html", who=who, product=out, listing=listing, offers=offer_list,
        certificates=certs, rights=RIGHTS, sample=preview, sample_withheld=withheld))


@router.get("/notices")
def public_notices(request: Request, ex: ExchangeDep, page_token: str | None = None,
                   ) -> Response:
    """The public notice (公示), for anyone; a signed-in visitor may file an objection."""
    who = sessions.principal(ex, request)
    with ex.read() as s:
        page = notices.open_notices(s, PAGE_SIZE, page_token)
    return _public(request, who, render(request, "notices.html", who=who, page=page))


@router.post("/notices/{registration_id}/objections")
async def object_to_notice(registration_id: int, request: Request,
                           ex: ExchangeDep) -> Response:
    who = signed_in(ex, request)
    form = await posted(request, who)
    try:
        body = validated(ObjectionIn, {"reason": form.get("reason", "").strip()})
        with ex.transaction() as s:
            registrations.file_objection(s, who, registration_id, body.reason)
    except ShuguError as exc:
        return failure(request, who, exc)
    return done("/notices", "objection_filed")
