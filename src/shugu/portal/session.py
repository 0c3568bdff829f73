"""Portal sessions and CSRF tokens.

The session cookie holds an API token (scope "api") created at sign-in and revoked at
sign-out, so a session is checked, expired and revoked exactly like any other token and
needs no table of its own. The cookie is HttpOnly and SameSite=Lax; Secure when served
over HTTPS.

CSRF: a signed-in form carries a token derived from the session secret (HMAC), which a
page on another origin can neither read nor compute. The sign-in form, before any session
exists, uses a random double-submit cookie instead.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta
from urllib.parse import parse_qs

from fastapi import Request, Response

from shugu.errors import Unauthenticated
from shugu.identity import service as identity
from shugu.identity.principal import Principal
from shugu.runtime import Exchange

SESSION_COOKIE = "shugu_session"
LOGIN_CSRF_COOKIE = "shugu_login_csrf"
CSRF_FIELD = "csrf_token"
SESSION_TTL = timedelta(hours=12)


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def set_cookie(request: Request, response: Response, name: str, value: str,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="lax", secure=secure(request))


def session_secret(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def principal(exchange: Exchange, request: Request) -> Principal | None:
    """Who the session cookie stands for; None when absent, revoked, expired or forged."""
    secret = session_secret(request)
    if secret is None:
        return None
    try:
        with exchange.read() as s:
            who = identity.authenticate(s, secret)
    except Unauthenticated:
        return None
    return who if who.scope == "api" else None


def csrf_for(secret: str) -> str:
    return hmac.new(secret.encode(), b"shugu-portal-csrf", hashlib.sha256).hexdigest()


def new_login_csrf() -> str:
    return secrets.token_urlsafe(24)


async def form(request: Request) -> dict[str, str]:
    """The urlencoded form body, first value of each field (no multipart needed)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(
        str(expected).encode(), str(given).encode())


def safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would make the sign-in page a lure."""
    if target and target.startswith("/") and not target.startswith("//") \
            and "\\" not in target:
        return target
    return "/"
