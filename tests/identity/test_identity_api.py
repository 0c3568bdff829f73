"""Identity over the real HTTP API: organisations, users, tokens, and every refusal."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from shugu.client import Client, ShuguAPIError
from shugu.db import utcnow
from shugu.identity.models import ApiToken, Organization
from shugu.ledger.models import LedgerEvent
from shugu.runtime import Exchange
from tests.conftest import LiveServer, Orgs, new_uscc


def count(exchange: Exchange, model: type, *where: object) -> int:
    with exchange.read() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def api_error(call: object) -> ShuguAPIError:
    with pytest.raises(ShuguAPIError) as info:
        call()  # type: ignore[operator]
    return info.value


def test_first_start_creates_the_operator(exchange: Exchange, operator: Client) -> None:
    me = operator.me()
    assert me.organization.is_platform and "operator" in me.organization.roles
    assert me.user.username == exchange.first_start.username  # type: ignore[union-attr]
    with exchange.read() as s:
        actions = list(s.scalars(select(LedgerEvent.action).order_by(LedgerEvent.seq)))
    assert actions[:2] == ["organization.created", "user.created"]
    assert actions[-1] == "token.created"  # the login


def test_operator_registers_an_organisation(exchange: Exchange, operator: Client,
                                            server: LiveServer) -> None:
    uscc = new_uscc()
    created = operator.create_organization(uscc, "杭州示范银行", ["consumer"], "bank_admin",
                                           name_en="Demo Bank")
    assert created.organization.uscc == uscc and created.admin_password
    bank = Client(server.url, created.token.secret)
    assert bank.me().organization.name == "杭州示范银行"
    # The generated password logs in too.
    Client(server.url).login("bank_admin", created.admin_password)
    with exchange.read() as s:
        subjects = set(s.scalars(select(LedgerEvent.subject)))
    assert f"org:{created.organization.id}" in subjects


def test_invalid_uscc_is_refused_and_nothing_written(exchange: Exchange,
                                                     operator: Client) -> None:
    before_orgs = count(exchange, Organization)
    before_events = count(exchange, LedgerEvent)
    bad = new_uscc()
    bad = bad[:17] + ("0" if bad[17] != "0" else "1")
    e = api_error(lambda: operator.create_organization(bad, "坏机构", ["provider"], "bad_admin"))
    assert (e.status, e.code) == (400, "invalid_uscc")
    assert "check character" in e.message
    e = api_error(lambda: operator.create_organization("123", "坏机构", ["provider"], "bad2"))
    assert e.code == "invalid_uscc"
    assert count(exchange, Organization) == before_orgs
    assert count(exchange, LedgerEvent) == before_events


def test_duplicate_uscc_and_username(exchange: Exchange, operator: Client) -> None:
    uscc = new_uscc()
    operator.create_organization(uscc, "甲", ["provider"], "dup_admin")
    e = api_error(lambda: operator.create_organization(uscc, "乙", ["provider"], "other"))
    assert (e.status, e.code) == (409, "duplicate_uscc")
    before = count(exchange, Organization)
    e = api_error(lambda: operator.create_organization(new_uscc(), "丙", ["provider"],
                                                       "DUP_admin"))
    assert (e.status, e.code) == (409, "duplicate_username")
    assert count(exchange, Organization) == before  # the org insert was rolled back too


def test_bad_request_bodies_are_422_with_the_error_shape(server: LiveServer,
                                                         operator: Client) -> None:
    r = httpx.post(f"{server.url}/api/v1/organizations", json={"uscc": new_uscc()},
                   headers={"Authorization": f"Bearer {operator.token}"}, timeout=60)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
    r = httpx.post(f"{server.url}/api/v1/organizations", content=b"\x00\xff",
                   headers={"Authorization": f"Bearer {operator.token}",
                            "Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 422
    r = httpx.get(f"{server.url}/api/v1/nowhere", timeout=60)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_only_the_operator_registers_organisations(orgs: Orgs) -> None:
    provider = orgs.new(["provider"])
    e = api_error(lambda: provider.create_organization(new_uscc(), "x", ["consumer"], "x_adm"))
    assert (e.status, e.code) == (403, "operator_required")


def test_operator_changes_roles(operator: Client, orgs: Orgs) -> None:
    client = orgs.new(["consumer"])
    org_id = client.org_id  # type: ignore[attr-defined]
    assert operator.set_roles(org_id, ["consumer", "provider"]).roles == ["consumer", "provider"]
    e = api_error(lambda: client.set_roles(org_id, ["operator"]))
    assert e.code == "operator_required"


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Bearer shg_abc_def", "Basic x"])
def test_missing_or_bad_token_is_401(server: LiveServer, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    r = httpx.get(f"{server.url}/api/v1/me", headers=headers, timeout=60)
    assert r.status_code == 401
    assert r.json()["error"]["code"] in {"token_missing", "token_invalid"}


def test_revoked_token_is_refused_at_the_next_request(orgs: Orgs, server: LiveServer) -> None:
    client = orgs.new(["provider"])
    created = client.create_token("ci")
    second = Client(server.url, created.secret)
    assert second.me().user.id == client.me().user.id
    client.revoke_token(created.token.id)
    e = api_error(second.me)
    assert (e.status, e.code) == (401, "token_revoked")


def test_expired_token_is_refused(exchange: Exchange, orgs: Orgs, server: LiveServer) -> None:
    client = orgs.new(["provider"])
    created = client.create_token("short", expires_in_days=1)
    with exchange.transaction() as s:
        s.execute(update(ApiToken).where(ApiToken.id == created.token.id)
                  .values(expires_at=utcnow() - timedelta(seconds=1)))
    e = api_error(Client(server.url, created.secret).me)
    assert (e.status, e.code) == (401, "token_expired")


def test_tampered_secret_is_refused(orgs: Orgs, server: LiveServer) -> None:
    client = orgs.new(["provider"])
    secret = client.create_token("t").secret
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert api_error(Client(server.url, tampered).me).code == "token_invalid"


def test_login_with_wrong_password(server: LiveServer, exchange: Exchange) -> None:
    e = api_error(lambda: Client(server.url).login("operator", "wrong-password"))
    assert (e.status, e.code) == (401, "invalid_credentials")
    e = api_error(lambda: Client(server.url).login("nobody", "whatever1"))
    assert e.code == "invalid_credentials"


def test_users_belong_to_their_organisation(orgs: Orgs, server: LiveServer) -> None:
    a, b = orgs.new(["provider"]), orgs.new(["consumer"])
    a_id = a.org_id  # type: ignore[attr-defined]
    made = a.create_user(a_id, "analyst_a", password="correct horse")
    assert made.user.org_id == a_id and made.password is None
    assert {u.username for u in a.list_users(a_id)} >= {"analyst_a"}
    # Another organisation's admin gets nothing.
    assert api_error(lambda: b.create_user(a_id, "intruder")).code == "org_admin_required"
    assert api_error(lambda: b.list_users(a_id)).code == "org_admin_required"
    # A non-admin user of the organisation cannot add users either.
    analyst = Client(server.url)
    analyst.login("analyst_a", "correct horse")
    assert api_error(lambda: analyst.create_user(a_id, "x_user")).code == "org_admin_required"


def test_an_admin_resets_a_users_password(orgs: Orgs, server: LiveServer,
                                         operator: Client) -> None:
    a, b = orgs.new(["provider"]), orgs.new(["consumer"])
    a_id = a.org_id  # type: ignore[attr-defined]
    user = a.create_user(a_id, "analyst_r", password="first password").user
    generated = a.reset_password(a_id, user.id).password
    assert generated and len(generated) >= 12
    assert api_error(lambda: Client(server.url).login("analyst_r", "first password")) \
        .code == "invalid_credentials"
    Client(server.url).login("analyst_r", generated)
    assert operator.reset_password(a_id, user.id, "chosen by ops").password is None
    Client(server.url).login("analyst_r", "chosen by ops")
    # Another organisation gets nothing; a user of another organisation is not found.
    assert api_error(lambda: b.reset_password(a_id, user.id)).code == "org_admin_required"
    b_id = b.org_id  # type: ignore[attr-defined]
    assert api_error(lambda: b.reset_password(b_id, user.id)).code == "user_not_found"
    assert api_error(lambda: a.reset_password(a_id, user.id, "short")).status == 422


def test_tokens_of_another_organisation_are_invisible(orgs: Orgs) -> None:
    a, b = orgs.new(["provider"]), orgs.new(["consumer"])
    token = a.create_token("mine").token
    assert token.id not in {t.id for t in b.list_tokens()}
    e = api_error(lambda: b.revoke_token(token.id))
    assert (e.status, e.code) == (404, "token_not_found")
    assert token.id in {t.id for t in a.list_tokens()}


def test_organisations_are_listed_with_pagination(operator: Client, orgs: Orgs) -> None:
    for _ in range(5):
        orgs.new(["consumer"])
    seen: list[int] = []
    page = operator.list_organizations(limit=2)
    while True:
        seen += [o.id for o in page.items]
        if not page.next_page_token:
            break
        page = operator.list_organizations(limit=2, page_token=page.next_page_token)
    assert len(seen) == len(set(seen)) == page.total
    assert api_error(lambda: operator.list_organizations(page_token="garbage!")).code == \
        "invalid_page_token"
    assert api_error(lambda: operator.list_organizations(limit=0)).code == "invalid_request"
