"""Request dependencies shared by every domain's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from shugu.errors import Forbidden
from shugu.identity import service as identity
from shugu.identity.principal import ANONYMOUS, Principal
from shugu.runtime import Exchange

_bearer = HTTPBearer(auto_error=False, description="API token from `shugu token create`")


def get_exchange(request: Request) -> Exchange:
    exchange: Exchange = request.app.state.exchange
    return exchange


def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    exchange = get_exchange(request)
    with exchange.read() as session:
        principal = identity.authenticate(session,
                                          credentials.credentials if credentials else None)
    if principal.scope != "api":
        raise Forbidden("this token is for Delta Sharing only; use an API token here",
                        code="token_scope")
    return principal


def get_viewer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of a public read: anonymous without a token; a token, when given, must be
    valid (a mistyped token is a 401, not a silent downgrade to the public view)."""
    if credentials is None:
        return ANONYMOUS
    return get_principal(request, credentials)


ExchangeDep = Annotated[Exchange, Depends(get_exchange)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
ViewerDep = Annotated[Principal, Depends(get_viewer)]
