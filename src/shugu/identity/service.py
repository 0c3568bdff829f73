"""Service functions of the identity domain: validated, committed with a ledger event."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shugu.db import utcnow
from shugu.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from shugu.identity import passwords, schemas
from shugu.identity.models import ApiToken, Organization, User
from shugu.identity.principal import SYSTEM_ACTOR, Principal
from shugu.identity.uscc import normalize, uscc_problem
from shugu.ledger import service as ledger
from shugu.pagination import Page, check_limit, decode_token, next_token

TOKEN_PREFIX = "shg"


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def validate_uscc(code: str) -> str:
    code = normalize(code)
    problem = uscc_problem(code)
    if problem:
        raise InvalidInput(f"invalid 统一社会信用代码 {code!r}: {problem}", code="invalid_uscc")
    return code


def principal_for(user: User, token: ApiToken | None = None) -> Principal:
    org = user.organization
    return Principal(
        user_id=user.id, username=user.username, org_id=org.id, org_roles=tuple(org.roles),
        is_admin=user.is_admin, is_platform=org.is_platform,
        token_id=token.id if token else None, scope=token.scope if token else "api",
    )


def _org_payload(org: Organization) -> dict[str, object]:
    return {"id": org.id, "uscc": org.uscc, "name": org.name, "name_en": org.name_en,
            "roles": list(org.roles), "is_platform": org.is_platform}


def _insert_org(
    session: Session, actor: str, uscc: str, name: str, name_en: str | None, roles: list[str],
    is_platform: bool = False,
) -> Organization:
    uscc = validate_uscc(uscc)
    if session.scalar(select(Organization.id).where(Organization.uscc == uscc)):
        raise Conflict(f"an organisation with USCC {uscc} already exists", code="duplicate_uscc")
    org = Organization(uscc=uscc, name=name.strip(), name_en=name_en, is_platform=is_platform,
                       roles=sorted(set(roles)))
    session.add(org)
    session.flush()
    ledger.append(session, actor=actor, action="organization.created",
                  subject=f"org:{org.id}", payload=_org_payload(org))
    return org


def _insert_user(
    session: Session, actor: str, org: Organization, username: str, password: str | None,
    display_name: str | None = None, is_admin: bool = False,
) -> tuple[User, str | None]:
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise Conflict(f"username {username!r} is taken", code="duplicate_username")
    generated = None
    if password is None:
        password = generated = generate_password()
    user = User(org_id=org.id, username=username, display_name=display_name,
                password_hash=passwords.hash_password(password), is_admin=is_admin)
    user.organization = org
    session.add(user)
    session.flush()
    ledger.append(session, actor=actor, action="user.created", subject=f"user:{user.id}",
                  payload={"id": user.id, "org_id": org.id, "username": username,
                           "is_admin": is_admin})
    return user, generated


def _insert_token(
    session: Session, actor: str, user: User, name: str, ttl: timedelta | None,
    scope: str = "api",
) -> tuple[ApiToken, str]:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        key_id=key_id, secret_hash=_sha256(secret), user_id=user.id, org_id=user.org_id,
        name=name, scope=scope, created_at=utcnow(),
        expires_at=(utcnow() + ttl) if ttl else None,
    )
    session.add(token)
    session.flush()
    ledger.append(session, actor=actor, action="token.created", subject=f"token:{token.id}",
                  payload={"id": token.id, "key_id": key_id, "user_id": user.id,
                           "org_id": user.org_id, "name": name, "scope": scope,
                           "expires_at": token.expires_at})
    return token, f"{TOKEN_PREFIX}_{key_id}_{secret}"


def bootstrap_platform(
    session: Session, *, uscc: str, name: str, username: str = "operator"
) -> tuple[Organization, User, str] | None:
    """Create the platform operator on first start; None when it already exists."""
    existing = session.scalar(select(Organization).where(Organization.is_platform.is_(True)))
    if existing is not None:
        return None
    org = _insert_org(session, SYSTEM_ACTOR, uscc, name, "Platform operator",
                      ["operator", "auditor"], is_platform=True)
    user, password = _insert_user(session, SYSTEM_ACTOR, org, username, None,
                                  display_name="Platform operator", is_admin=True)
    assert password is not None
    return org, user, password


def create_organization(
    session: Session, principal: Principal, data: schemas.OrganizationIn, token_ttl: timedelta
) -> tuple[Organization, User, str | None, ApiToken, str]:
    principal.require_operator()
    org = _insert_org(session, principal.actor, data.uscc, data.name, data.name_en,
                      list(data.roles))
    admin, password = _insert_user(session, principal.actor, org, data.admin_username,
                                   data.admin_password, is_admin=True)
    token, secret = _insert_token(session, principal.actor, admin, "initial token", token_ttl)
    return org, admin, password, token, secret


def set_roles(
    session: Session, principal: Principal, org_id: int, roles: list[str]
) -> Organization:
    principal.require_operator()
    org = get_organization(session, org_id)
    org.roles = sorted(set(roles))
    ledger.append(session, actor=principal.actor, action="organization.roles_changed",
                  parties=[principal.org_id],
                  subject=f"org:{org.id}", payload=_org_payload(org))
    return org


def get_organization(session: Session, org_id: int) -> Organization:
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound(f"organisation {org_id} does not exist", code="organization_not_found")
    return org


def list_organizations(
    session: Session, limit: int | None, page_token: str | None, role: str | None = None
) -> Page[schemas.OrganizationOut]:
    limit, offset = check_limit(limit), decode_token(page_token)
    rows = session.scalars(select(Organization).order_by(Organization.id)).all()
    if role:
        rows = [o for o in rows if role in o.roles]
    chunk = rows[offset: offset + limit + 1]
    return Page[schemas.OrganizationOut](
        items=[schemas.OrganizationOut.model_validate(o) for o in chunk[:limit]],
        next_page_token=next_token(offset, limit, len(chunk)), total=len(rows),
    )


def _may_manage_org(principal: Principal, org_id: int) -> None:
    if principal.is_operator:
        return
    if principal.org_id != org_id or not principal.is_admin:
        raise Forbidden("only an administrator of this organisation may do this",
                        code="org_admin_required")


def create_user(
    session: Session, principal: Principal, org_id: int, data: schemas.UserIn
) -> tuple[User, str | None]:
    _may_manage_org(principal, org_id)
    org = get_organization(session, org_id)
    return _insert_user(session, principal.actor, org, data.username, data.password,
                        data.display_name, data.is_admin)


def reset_password(session: Session, principal: Principal, org_id: int, user_id: int,
                   password: str | None) -> str | None:
    """An organisation's administrator (or the operator) sets a user's password; without one
    a new password is generated and returned once. Sessions and tokens stay as they are."""
    _may_manage_org(principal, org_id)
    user = session.get(User, user_id)
    if user is None or user.org_id != org_id:
        raise NotFound(f"user {user_id} does not exist", code="user_not_found")
    generated = None
    if password is None:
        password = generated = generate_password()
    user.password_hash = passwords.hash_password(password)
    ledger.append(session, actor=principal.actor, action="user.password_reset",
                  parties=[principal.org_id],
                  subject=f"user:{user.id}", payload={"id": user.id, "org_id": org_id})
    return generated


def change_own_password(session: Session, principal: Principal, current: str,
                        new: str) -> None:
    """A user replaces their own password, proving the current one first."""
    user = session.get(User, principal.user_id)
    if user is None or not user.password_hash \
            or not passwords.matches(user.password_hash, current):
        raise Forbidden("the current password is wrong", code="wrong_password")
    if len(new) < 8:
        raise InvalidInput("a password needs at least 8 characters", code="password_too_short")
    if new == current:
        raise InvalidInput("the new password is the current one", code="password_unchanged")
    user.password_hash = passwords.hash_password(new)
    ledger.append(session, actor=principal.actor, action="user.password_changed",
                  parties=[principal.org_id],
                  subject=f"user:{user.id}", payload={"id": user.id, "org_id": user.org_id})


def list_users(session: Session, principal: Principal, org_id: int) -> list[User]:
    _may_manage_org(principal, org_id)
    return list(session.scalars(select(User).where(User.org_id == org_id).order_by(User.id)))


def create_token(
    session: Session, principal: Principal, data: schemas.TokenIn, default_ttl: timedelta,
    scope: str = "api",
) -> tuple[ApiToken, str]:
    """A token for the caller; scope "sharing" makes a Delta Sharing recipient token."""
    user = session.get(User, principal.user_id)
    assert user is not None
    ttl = timedelta(days=data.expires_in_days) if data.expires_in_days else default_ttl
    return _insert_token(session, principal.actor, user, data.name, ttl, scope)


def list_tokens(session: Session, principal: Principal) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.org_id == principal.org_id)
    if not principal.is_admin:
        query = query.where(ApiToken.user_id == principal.user_id)
    return list(session.scalars(query.order_by(ApiToken.id)))


def revoke_token(session: Session, principal: Principal, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    visible = token is not None and token.org_id == principal.org_id and (
        principal.is_admin or token.user_id == principal.user_id
    )
    if token is None or not visible:
        raise NotFound(f"token {token_id} does not exist", code="token_not_found")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        ledger.append(session, actor=principal.actor, action="token.revoked",
                      parties=[principal.org_id, token.org_id],
                      subject=f"token:{token.id}", payload={"id": token.id})
    return token


def login(
    session: Session, username: str, password: str, ttl: timedelta
) -> tuple[ApiToken, str]:
    """Exchange a password for a new API token."""
    user = session.scalar(select(User).where(func.lower(User.username) == username.lower()))
    ok = False
    if user is not None and user.is_active and user.password_hash:
        ok = passwords.matches(user.password_hash, password)
    if not ok or user is None:
        raise Unauthenticated("wrong username or password", code="invalid_credentials")
    return _insert_token(session, f"user:{user.username}", user, "login", ttl)


def authenticate(session: Session, bearer: str | None) -> Principal:
    """The principal a bearer token stands for; 401 with a precise code otherwise."""
    if not bearer:
        raise Unauthenticated("an API token is required (Authorization: Bearer ...)",
                              code="token_missing")
    parts = bearer.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        raise Unauthenticated("the API token is malformed", code="token_invalid")
    token = session.scalar(select(ApiToken).where(ApiToken.key_id == parts[1]))
    if token is None or not hmac.compare_digest(token.secret_hash, _sha256(parts[2])):
        raise Unauthenticated("the API token is not valid", code="token_invalid")
    if token.revoked_at is not None:
        raise Unauthenticated("the API token has been revoked", code="token_revoked")
    if token.expires_at is not None and token.expires_at <= utcnow():
        raise Unauthenticated("the API token has expired", code="token_expired")
    if not token.user.is_active:
        raise Unauthenticated("the user of this token is disabled", code="user_disabled")
    return principal_for(token.user, token)
