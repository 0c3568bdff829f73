"""The portal's public pages: the catalogue, a listed product and the public notice (公示)
without an account; what stays hidden; objections need an account."""

from __future__ import annotations

from contextlib import closing

import httpx

from shugu.client import Client
from shugu.portal.i18n import MESSAGES
from shugu.runtime import Exchange
from tests.conftest import LiveServer, list_product
from tests.portal.conftest import Signup, csrf_of, signed_in_web
from tests.rights.conftest import draft, end_notice, make_product, through, to_notice

POLICY = {"permission": [{"action": "use", "constraint": [
    {"leftOperand": "deliveryMode", "operator": "isAnyOf", "rightOperand": ["share"]}]}]}
ZH, EN = MESSAGES["zh"], MESSAGES["en"]


def test_anonymous_visitors_browse_the_market(server: LiveServer, operator: Client,
                                              exchange: Exchange, signup: Signup,
                                              web: httpx.Client) -> None:
    grid = signup(["provider"], "电网公司").api
    bank = signup(["consumer"], "银行").api
    make_product(grid, "power-use")
    number = through(operator, grid, exchange, draft(grid, "power-use"))
    list_product(grid, operator, "power-use")
    grid.create_offer("power-use", "公开报价", plan="one_time", price_fen=123_456_789,
                      policy=POLICY)
    grid.create_offer("power-use", "专属报价", plan="one_time", price_fen=1, policy=POLICY,
                      visibility="private", private_org_id=bank.org_id)  # type: ignore[attr-defined]
    grid.create_product("hidden-draft", "未上架的用电数据")

    home = web.get("/")
    assert home.status_code == 200
    assert "/products/power-use" in home.text and "hidden-draft" not in home.text
    assert 'href="/login?next=' in home.text and 'action="/logout"' not in home.text
    searched = web.get("/", params={"q": "用电"})
    assert searched.status_code == 200 and "/products/power-use" in searched.text

    page = web.get("/products/power-use")
    assert page.status_code == 200
    assert ZH["product.sheet"] in page.text and "企业月度用电量" in page.text
    assert number in page.text and ZH["cert.s.valid"] in page.text
    assert "公开报价" in page.text and "1,234,567.89" in page.text
    assert "专属报价" not in page.text
    assert ZH["sample.sign_in"] in page.text and ZH["offers.sign_in"] in page.text
    english = web.get("/products/power-use", params={"lang": "en"})
    assert EN["product.sheet"] in english.text

    for hidden in ("/products/hidden-draft", "/products/nope"):
        assert web.get(hidden).status_code == 404, hidden
    # Signed-in pages still send anonymous visitors to sign in.
    for private in ("/account", "/consumer", "/provider", "/operator", "/auditor"):
        answer = web.get(private)
        assert answer.status_code == 303 and answer.headers["location"].startswith(
            "/login?next="), private


def test_the_public_notice_page(server: LiveServer, operator: Client, exchange: Exchange,
                                signup: Signup, web: httpx.Client) -> None:
    grid = signup(["provider"], "电网公司")
    bank = signup(["consumer"], "银行")
    make_product(grid.api, "power-use")
    empty = web.get("/notices")
    assert empty.status_code == 200 and ZH["notices.empty"] in empty.text
    reg_id = draft(grid.api, "power-use")
    to_notice(operator, grid.api, reg_id)
    reg = grid.api.registration(reg_id)
    assert reg.notice_end is not None

    page = web.get("/notices")
    assert page.status_code == 200
    assert ZH["notices.deadline"] in page.text
    assert reg.notice_end.strftime("%Y-%m-%d %H:%M:%S") in page.text
    assert reg.data_name in page.text and "按区县、月份汇总" in page.text
    assert "proof.txt" not in page.text  # documents are not published
    assert "/products/power-use" not in page.text  # not listed: no link to it
    assert 'action="/notices/' not in page.text  # no form without an account
    refused = web.post(f"/notices/{reg_id}/objections", data={"reason": "x"})
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")

    with closing(signed_in_web(server, bank)) as member:
        signed = member.get("/notices")
        form = f'action="/notices/{reg_id}/objections"'
        assert form in signed.text
        csrf = csrf_of(signed.text)
        assert member.post(f"/notices/{reg_id}/objections",
                           data={"reason": "x", "csrf_token": "forged"}).status_code == 403
        blank = member.post(f"/notices/{reg_id}/objections",
                            data={"reason": "   ", "csrf_token": csrf})
        assert blank.status_code == 422 and "invalid_request" in blank.text
        filed = member.post(f"/notices/{reg_id}/objections",
                            data={"reason": "数据来源存疑", "csrf_token": csrf})
        assert filed.status_code == 303 and "objection_filed" in filed.headers["location"]
    assert [o.reason for o in operator.objections(reg_id)] == ["数据来源存疑"]
    with closing(signed_in_web(server, grid)) as applicant:
        own = applicant.post(f"/notices/{reg_id}/objections",
                             data={"reason": "x", "csrf_token": csrf_of(
                                 applicant.get("/notices").text)})
        assert own.status_code == 403 and "own_registration" in own.text
    end_notice(exchange, reg_id)
    assert ZH["notices.empty"] in web.get("/notices").text
