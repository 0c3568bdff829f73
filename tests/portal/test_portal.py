"""The web portal through a real server: sessions, CSRF, language, visibility, no CDN."""

from __future__ import annotations

import re

import httpx

from shugu.client import Client
from shugu.portal.i18n import MESSAGES
from tests.conftest import LiveServer, list_product
from tests.conftest import db_url as db_url  # sessions and visibility: both databases
from tests.portal.conftest import Signup, csrf_of, sign_in

POLICY = {"permission": [{"action": "use", "constraint": [
    {"leftOperand": "deliveryMode", "operator": "isAnyOf", "rightOperand": ["share"]}]}]}


def test_sign_in_sets_a_safe_session_cookie(signup: Signup, web: httpx.Client) -> None:
    member = signup(["consumer"], "杭州银行")
    first = web.get("/account")
    assert first.status_code == 303 and first.headers["location"].startswith("/login")
    # The catalogue itself is public: no sign-in, no redirect, no user menu.
    public = web.get("/")
    assert public.status_code == 200 and 'action="/logout"' not in public.text
    page = web.get("/login")
    assert '<html lang="zh-CN">' in page.text and "用户名" in page.text

    wrong = sign_in(web, member, password="not-the-password")
    assert wrong.status_code == 401 and MESSAGES["zh"]["login.failed"] in wrong.text
    assert "shugu_session" not in wrong.headers.get("set-cookie", "")
    assert web.get("/account").status_code == 303

    ok = sign_in(web, member, next="/?q=x")
    assert ok.status_code == 303 and ok.headers["location"] == "/?q=x"
    cookie = next(h for h in ok.headers.get_list("set-cookie") if h.startswith("shugu_session="))
    flags = {p.strip().lower() for p in cookie.split(";")[1:]}
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    secret = cookie.split(";")[0].split("=", 1)[1]
    assert member.password not in secret and member.username not in secret
    home = web.get("/")
    assert home.status_code == 200 and member.username in home.text

    # A forged cookie is no session.
    with httpx.Client(base_url=str(web.base_url), cookies={"shugu_session": "shg_x_y"},
                      timeout=60) as c:
        assert c.get("/account").status_code == 303
        # On a public page the visitor is anonymous and the dead cookie is dropped.
        public = c.get("/")
        assert public.status_code == 200 and 'action="/logout"' not in public.text
        assert 'shugu_session=""' in public.headers.get("set-cookie", "")


def test_open_redirects_are_refused(signup: Signup, web: httpx.Client) -> None:
    member = signup(["consumer"], "杭州银行")
    assert sign_in(web, member, next="//evil.example/").headers["location"] == "/"
    assert web.get("/lang/en", params={"next": "https://evil.example/"}) \
        .headers["location"] == "/"


def test_forms_without_the_csrf_token_are_refused(signup: Signup, web: httpx.Client) -> None:
    member = signup(["consumer"], "杭州银行")
    web.get("/login")
    for token in (None, "forged"):
        data = {"username": member.username, "password": member.password}
        if token:
            data["csrf_token"] = token
        refused = web.post("/login", data=data)
        assert refused.status_code == 403 and "shugu_session=" not in \
            refused.headers.get("set-cookie", "")
    assert sign_in(web, member).status_code == 303

    refused = web.post("/logout", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    assert web.get("/").status_code == 200  # still signed in


def test_sign_out_revokes_the_session(signup: Signup, web: httpx.Client,
                                      server: LiveServer) -> None:
    member = signup(["consumer"], "杭州银行")
    sign_in(web, member)
    home = web.get("/")
    secret = web.cookies["shugu_session"]
    # The session is an API token: the same secret works on the API until sign-out.
    with Client(server.url, secret) as api:
        api.list_tokens()
    out = web.post("/logout", data={"csrf_token": csrf_of(home.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert "shugu_session" not in web.cookies
    # Replaying the old cookie gets nothing, on the portal or the API.
    with httpx.Client(base_url=server.url, cookies={"shugu_session": secret}, timeout=60) as c:
        assert c.get("/account").status_code == 303
    assert httpx.get(f"{server.url}/api/v1/tokens",
                     headers={"Authorization": f"Bearer {secret}"},
                     timeout=60).status_code == 401


def test_language_switch_renders_english(signup: Signup, web: httpx.Client) -> None:
    assert set(MESSAGES["zh"]) == set(MESSAGES["en"])
    switched = web.get("/lang/en", params={"next": "/login"})
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    page = web.get("/login")
    assert '<html lang="en">' in page.text and "Username" in page.text
    assert "用户名" not in page.text
    back = web.get("/login", params={"lang": "zh"})
    assert '<html lang="zh-CN">' in back.text and web.cookies["shugu_lang"] == "zh"
    member = signup(["consumer"], "杭州银行")
    sign_in(web, member)
    assert "Data catalogue" in web.get("/", params={"lang": "en"}).text


def test_catalog_shows_only_what_the_organisation_may_see(
        signup: Signup, web: httpx.Client, operator: Client) -> None:
    grid = signup(["provider"], "浙江电网公司")
    grid.api.create_product("power-use", "企业月度用电量", title_en="Monthly power use",
                            category="能源", update_frequency="monthly",
                            data_source="抄表数据", scenario="绿色信贷")
    list_product(grid.api, operator, "power-use", table="usage")
    grid.api.create_offer("power-use", "按次查询", plan="per_query", price_fen=5_00,
                          policy=POLICY)
    other = signup(["provider"], "另一家公司")
    other.api.create_product("secret-draft", "未上架的草稿")
    bank = signup(["consumer"], "杭州银行")

    sign_in(web, bank)
    home = web.get("/")
    assert "企业月度用电量" in home.text and "未上架的草稿" not in home.text
    assert "secret-draft" not in home.text
    assert "企业月度用电量" in web.get("/", params={"q": "用电"}).text
    assert "企业月度用电量" not in web.get("/", params={"category": "金融"}).text
    assert web.get("/products/secret-draft").status_code == 404
    assert web.get("/products/no-such-thing").status_code == 404

    page = web.get("/products/power-use")
    assert page.status_code == 200
    for text in ("数据产品说明书", "抄表数据", "绿色信贷", "每月", "usage", "region",
                 "上架质量报告", "综合得分", "按次查询", "5.00"):
        assert text in page.text, text
    english = web.get("/products/power-use", params={"lang": "en"}).text
    assert "Monthly power use" in english and "Product description sheet" in english

    # The provider of the draft sees it, in its own list and on its page.
    web.cookies.clear()
    sign_in(web, other)
    assert "未上架的草稿" in web.get("/").text
    draft = web.get("/products/secret-draft")
    assert draft.status_code == 200 and MESSAGES["zh"]["quality.none"] in draft.text


def test_no_page_loads_anything_from_another_origin(signup: Signup, web: httpx.Client) -> None:
    grid = signup(["provider"], "浙江电网公司")
    grid.api.create_product("power-use", "企业月度用电量")
    pages = [web.get("/login").text]
    sign_in(web, grid)
    pages += [web.get(p).text for p in ("/", "/products/power-use", "/products/none")]
    pages.append(web.get("/", params={"lang": "en"}).text)
    attrs = re.compile(r'(?:src|href|action)\s*=\s*["\']?\s*([^"\'\s>]+)', re.I)
    for html in pages:
        refs = attrs.findall(html)
        assert refs, "the pattern found nothing to check"
        for ref in refs:
            assert not re.match(r"(?i)(https?:)?//", ref), ref
    assert "/static/portal.css" in pages[0]
    css = web.get("/static/portal.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "url(" not in css.text and "@import" not in css.text
    assert web.get("/static/..%2Fsession.py").status_code == 404
    # The API and Delta Sharing are untouched by the portal's routes.
    assert web.get("/api/v1/health").json()["status"] == "ok"


def test_malformed_or_unknown_portal_addresses_are_pages(signup: Signup,
                                                         web: httpx.Client) -> None:
    member = signup(["consumer"], "杭州银行")
    sign_in(web, member)
    for path in ("/consumer/agreements/abc", "/no/such/page"):
        page = web.get(path)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert MESSAGES["zh"]["notfound.title"] in page.text
    # The API keeps answering JSON.
    api = web.get("/api/v1/no-such-endpoint")
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    bad = web.get("/api/v1/products/x/revisions/abc")  # the cookie is no API credential
    assert bad.status_code == 401 and bad.json()["error"]["code"] == "token_missing"
