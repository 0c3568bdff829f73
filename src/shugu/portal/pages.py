"""What every portal page shares: rendering, the signed-in check, checked forms and the
mapping of domain errors to a page. Role sections (provider.py, consumer.py, operator.py,
auditor.py) build on these and call the domain services with the signed-in Principal, so
the portal enforces exactly what the API enforces and has no rules of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ValidationError

from shugu.errors import InvalidInput, ShuguError, Unprocessable
from shugu.errors import NotFound as NotFoundError
from shugu.identity.principal import Principal
from shugu.portal import i18n
from shugu.portal import session as sessions
from shugu.runtime import Exchange

HERE = Path(__file__).parent
M = TypeVar("M", bound=BaseModel)

env = Environment(loader=FileSystemLoader(HERE / "templates"),
                  autoescape=select_autoescape(["html"]))


def yuan(fen: int | None) -> str:
    """Integer fen as exact yuan text (no float anywhere in money)."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole:,}.{cents:02d}"


def num(value: object) -> str:
    """A whole number with digit grouping (1,234,567); anything else as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "—" if value is None else str(value)


env.filters["yuan"] = yuan
env.filters["num"] = num


def render(request: Request, template: str, status_code: int = 200,
           who: Principal | None = None, **context: Any) -> HTMLResponse:
    lang = i18n.language(request)
    secret = sessions.session_secret(request) if who else None
    html = env.get_template(template).render(
        t=i18n.translator(lang), lang=lang, html_lang=i18n.HTML_LANG[lang], who=who,
        path=request.url.path, csrf=sessions.csrf_for(secret) if secret else None,
        done=request.query_params.get("done"), **context)
    response = HTMLResponse(html, status_code=status_code)
    if i18n.requested(request):
        sessions.set_cookie(request, response, i18n.COOKIE, lang, max_age=365 * 86400)
    return response


def to_login(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = RedirectResponse(f"/login?next={quote(target)}", status_code=303)
    if sessions.session_secret(request):  # a dead session: drop the cookie
        response.delete_cookie(sessions.SESSION_COOKIE, path="/")
    return response


class NotSignedIn(Exception):
    """Raised by signed_in(); app-level handler turns it into the redirect to /login."""


class BadForm(Exception):
    """A POST whose CSRF token is missing or wrong: 403, nothing changed."""


def signed_in(ex: Exchange, request: Request) -> Principal:
    who = sessions.principal(ex, request)
    if who is None:
        raise NotSignedIn()
    return who


async def posted(request: Request, who: Principal) -> dict[str, str]:
    """The form of a signed-in POST, after checking its CSRF token."""
    data = await sessions.form(request)
    secret = sessions.session_secret(request)
    if secret is None or not sessions.csrf_ok(sessions.csrf_for(secret),
                                             data.get(sessions.CSRF_FIELD)):
        raise BadForm()
    return data


def member_of(ex: Exchange, request: Request, role: str) -> Principal:
    """The signed-in user of an organisation holding role; the 404 page for anyone else,
    as if the section did not exist."""
    who = signed_in(ex, request)
    if role not in who.org_roles:
        raise NotFoundError(f"the {role} pages are for {role} organisations", code="not_found")
    return who


def validated(model: type[M], data: dict[str, Any]) -> M:
    """A form's fields as the domain's own input model; a bad field is the 422
    invalid_request page naming it, as the API answers."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        raise Unprocessable("; ".join(problems), code="invalid_request") from None


def whole_number(text: str | None, field: str, *, code: str = "invalid_number",
                 default: int | None = None, minimum: int = -2**31 + 1) -> int | None:
    """An optional whole number typed into a form (within a database integer); a bad one is
    a 400 page with the given stable code."""
    text = (text or "").strip()
    if not text:
        return default
    try:
        number: int | None = int(text)
    except ValueError:
        number = None
    if number is None or not minimum <= number < 2**31:
        raise InvalidInput(f"{field}: {text!r} is not a whole number", code=code, field=field)
    return number


def csrf_header_ok(request: Request) -> bool:
    """For script uploads (raw bodies): the same token in the X-CSRF-Token header."""
    secret = sessions.session_secret(request)
    return secret is not None and sessions.csrf_ok(sessions.csrf_for(secret),
                                                   request.headers.get("x-csrf-token"))


def done(path: str, key: str, **params: str | int) -> RedirectResponse:
    """Post/redirect/get: after a successful form, show the page with a confirmation."""
    query = urlencode({"done": key, **params})
    sep = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{sep}{query}", status_code=303)


def failure(request: Request, who: Principal | None, exc: ShuguError) -> HTMLResponse:
    """A refused action as a page: the stable code and the domain's own message."""
    return render(request, "error.html", exc.status, who=who, title="action.refused",
                  error=exc)


def not_found(request: Request, who: Principal | None) -> HTMLResponse:
    return render(request, "error.html", 404, who=who, title="notfound.title",
                  body="notfound.body")


def forbidden_form(request: Request, who: Principal | None) -> HTMLResponse:
    return render(request, "error.html", 403, who=who, title="csrf.failed", body="csrf.failed")


def redirect(path: str) -> Response:
    return RedirectResponse(path, status_code=303)


def is_portal(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api/") or path.startswith("/delta-sharing"))


def error_response(request: Request, exc: ShuguError) -> HTMLResponse:
    """A domain refusal raised inside a portal page, shown as a page in the reader's
    language with the stable code (the message itself is the domain's, in English)."""
    exchange: Exchange = request.app.state.exchange
    who = sessions.principal(exchange, request)
    if isinstance(exc, NotFoundError):
        return not_found(request, who)
    return failure(request, who, exc)


def install(app: Any) -> None:
    """Portal-only exception handlers: a missing session goes to /login, a bad form 403."""

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, _: NotSignedIn) -> Response:
        return to_login(request)

    @app.exception_handler(BadForm)
    async def _bad_form(request: Request, _: BadForm) -> Response:
        exchange: Exchange = request.app.state.exchange
        return forbidden_form(request, sessions.principal(exchange, request))
