"""The signed-in user's own account: change the password, see one's sessions and API
tokens, revoke one or sign out everywhere else. Identity service functions do the work."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from shugu.api.deps import ExchangeDep
from shugu.errors import InvalidInput
from shugu.identity import service as identity
from shugu.identity.models import Organization
from shugu.portal import session as sessions
from shugu.portal.pages import done, posted, redirect, render, signed_in

router = APIRouter()


@router.get("/account")
def account(request: Request, ex: ExchangeDep) -> Response:
    who = signed_in(ex, request)
    with ex.read() as s:
        org = s.get(Organization, who.org_id)
        tokens = [t for t in identity.list_tokens(s, who) if t.user_id == who.user_id]
    tokens.sort(key=lambda t: (t.revoked_at is not None, -t.id))
    return render(request, "account.html", who=who, org=org, tokens=tokens)


@router.post("/account/password")
async def change_password(request: Request, ex: ExchangeDep) -> Response:
    who = signed_in(ex, request)
    form = await posted(request, who)
    new = form.get("new_password", "")
    if new != form.get("repeat_password", ""):
        raise InvalidInput("the two new passwords differ", code="passwords_differ")
    with ex.transaction() as s:
        identity.change_own_password(s, who, form.get("current_password", ""), new)
    return done("/account", "account_password")


@router.post("/account/tokens/{token_id}/revoke")
async def revoke(token_id: int, request: Request, ex: ExchangeDep) -> Response:
    who = signed_in(ex, request)
    await posted(request, who)
    with ex.transaction() as s:
        identity.revoke_token(s, who, token_id)
    if token_id == who.token_id:  # this very session
        response = redirect("/login")
        response.delete_cookie(sessions.SESSION_COOKIE, path="/")
        return response
    return done("/account", "account_revoked")


@router.post("/account/sign-out-others")
async def sign_out_others(request: Request, ex: ExchangeDep) -> Response:
    """Ends every other portal session of this user (API tokens they made stay)."""
    who = signed_in(ex, request)
    await posted(request, who)
    with ex.transaction() as s:
        for t in identity.list_tokens(s, who):
            if t.user_id == who.user_id and t.name == "login" and t.revoked_at is None \
                    and t.id != who.token_id:
                identity.revoke_token(s, who, t.id)
    return done("/account", "account_others_out")
