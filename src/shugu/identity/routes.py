"""REST endpoints of the identity domain."""

from __future__ import annotations

from fastapi import APIRouter, status

from shugu.api.deps import ExchangeDep, PrincipalDep
from shugu.api.limits import Id, Limit, PageToken, QueryText
from shugu.identity import schemas
from shugu.identity import service as identity
from shugu.identity.models import User
from shugu.pagination import Page

router = APIRouter(tags=["identity"])


@router.post("/auth/login", response_model=schemas.TokenCreated)
def login(body: schemas.LoginIn, ex: ExchangeDep) -> schemas.TokenCreated:
    with ex.transaction() as s:
        token, secret = identity.login(s, body.username, body.password, ex.token_ttl)
        return schemas.TokenCreated(token=schemas.TokenOut.model_validate(token), secret=secret)


@router.get("/me", response_model=schemas.Me)
def me(ex: ExchangeDep, who: PrincipalDep) -> schemas.Me:
    with ex.read() as s:
        user = s.get(User, who.user_id)
        assert user is not None
        return schemas.Me(user=schemas.UserOut.model_validate(user),
                          organization=schemas.OrganizationOut.model_validate(user.organization))


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
def change_password(body: schemas.PasswordChangeIn, ex: ExchangeDep, who: PrincipalDep) -> None:
    """Replace one's own password (the current one is checked; 403 wrong_password)."""
    with ex.transaction() as s:
        identity.change_own_password(s, who, body.current_password, body.new_password)


@router.post("/organizations", response_model=schemas.OrganizationCreated,
             status_code=status.HTTP_201_CREATED)
def create_organization(
    body: schemas.OrganizationIn, ex: ExchangeDep, who: PrincipalDep
) -> schemas.OrganizationCreated:
    with ex.transaction() as s:
        org, admin, password, token, secret = identity.create_organization(
            s, who, body, ex.token_ttl)
        return schemas.OrganizationCreated(
            organization=schemas.OrganizationOut.model_validate(org),
            admin=schemas.UserOut.model_validate(admin), admin_password=password,
            token=schemas.TokenCreated(token=schemas.TokenOut.model_validate(token),
                                       secret=secret),
        )


@router.get("/organizations", response_model=Page[schemas.OrganizationOut])
def list_organizations(
    ex: ExchangeDep, who: PrincipalDep, limit: Limit = None,
    page_token: PageToken = None, role: QueryText = None,
) -> Page[schemas.OrganizationOut]:
    with ex.read() as s:
        return identity.list_organizations(s, limit, page_token, role)


@router.get("/organizations/{org_id}", response_model=schemas.OrganizationOut)
def get_organization(org_id: Id, ex: ExchangeDep, who: PrincipalDep) -> schemas.OrganizationOut:
    with ex.read() as s:
        return schemas.OrganizationOut.model_validate(identity.get_organization(s, org_id))


@router.put("/organizations/{org_id}/roles", response_model=schemas.OrganizationOut)
def set_roles(
    org_id: Id, body: schemas.OrganizationRolesIn, ex: ExchangeDep, who: PrincipalDep
) -> schemas.OrganizationOut:
    with ex.transaction() as s:
        org = identity.set_roles(s, who, org_id, list(body.roles))
        return schemas.OrganizationOut.model_validate(org)


@router.post("/organizations/{org_id}/users", response_model=schemas.UserCreated,
             status_code=status.HTTP_201_CREATED)
def create_user(
    org_id: Id, body: schemas.UserIn, ex: ExchangeDep, who: PrincipalDep
) -> schemas.UserCreated:
    with ex.transaction() as s:
        user, password = identity.create_user(s, who, org_id, body)
        return schemas.UserCreated(user=schemas.UserOut.model_validate(user), password=password)


@router.post("/organizations/{org_id}/users/{user_id}/password",
             response_model=schemas.PasswordSet)
def reset_password(org_id: Id, user_id: Id, body: schemas.PasswordIn, ex: ExchangeDep,
                   who: PrincipalDep) -> schemas.PasswordSet:
    with ex.transaction() as s:
        return schemas.PasswordSet(password=identity.reset_password(
            s, who, org_id, user_id, body.password))


@router.get("/organizations/{org_id}/users", response_model=list[schemas.UserOut])
def list_users(org_id: Id, ex: ExchangeDep, who: PrincipalDep) -> list[schemas.UserOut]:
    with ex.read() as s:
        return [schemas.UserOut.model_validate(u) for u in identity.list_users(s, who, org_id)]


@router.post("/tokens", response_model=schemas.TokenCreated, status_code=status.HTTP_201_CREATED)
def create_token(
    body: schemas.TokenIn, ex: ExchangeDep, who: PrincipalDep
) -> schemas.TokenCreated:
    with ex.transaction() as s:
        token, secret = identity.create_token(s, who, body, ex.token_ttl)
        return schemas.TokenCreated(token=schemas.TokenOut.model_validate(token), secret=secret)


@router.get("/tokens", response_model=list[schemas.TokenOut])
def list_tokens(ex: ExchangeDep, who: PrincipalDep) -> list[schemas.TokenOut]:
    with ex.read() as s:
        return [schemas.TokenOut.model_validate(t) for t in identity.list_tokens(s, who)]


@router.delete("/tokens/{token_id}", response_model=schemas.TokenOut)
def revoke_token(token_id: Id, ex: ExchangeDep, who: PrincipalDep) -> schemas.TokenOut:
    with ex.transaction() as s:
        return schemas.TokenOut.model_validate(identity.revoke_token(s, who, token_id))
