"""The public marketplace: what anyone may read without an account, over the API, the SDK
and the CLI, and what stays invisible (unlisted products, private offers, documents)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from shugu.cli import app
from shugu.client import Client, ShuguAPIError
from shugu.runtime import Exchange
from tests.conftest import LiveServer, Orgs, list_product
from tests.rights.conftest import draft, end_notice, make_product, through, to_notice

POLICY = {"permission": [{"action": "use", "constraint": [
    {"leftOperand": "deliveryMode", "operator": "isAnyOf", "rightOperand": ["share"]}]}]}


def get(server: LiveServer, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{server.url}/api/v1{path}", params=params, timeout=60)


def code_of(answer: httpx.Response) -> tuple[int, str]:
    return answer.status_code, answer.json()["error"]["code"]


@pytest.fixture
def market(server: LiveServer, operator: Client, orgs: Orgs,
           exchange: Exchange) -> dict[str, Any]:
    """A listed product with a certificate, a public, a private and a withdrawn offer; a
    draft product of the same provider; another provider's registration in notice."""
    grid = orgs.new(["provider"], "电网公司")
    bank = orgs.new(["consumer"], "银行")
    make_product(grid, "power-use")
    number = through(operator, grid, exchange, draft(grid, "power-use"))
    list_product(grid, operator, "power-use")
    public = grid.create_offer("power-use", "公开报价", plan="one_time", price_fen=100,
                               policy=POLICY)
    private = grid.create_offer("power-use", "专属报价", plan="one_time", price_fen=50,
                                policy=POLICY, visibility="private",
                                private_org_id=bank.org_id)  # type: ignore[attr-defined]
    withdrawn = grid.create_offer("power-use", "已撤回", plan="one_time", price_fen=70,
                                  policy=POLICY)
    grid.withdraw_offer(withdrawn.id)
    make_product(grid, "secret-draft")
    return {"grid": grid, "bank": bank, "cert": number, "public": public.id,
            "private": private.id, "withdrawn": withdrawn.id}


def test_anonymous_reads_listed_products_and_nothing_else(server: LiveServer,
                                                           market: dict[str, Any]) -> None:
    hits = get(server, "/search", q="用电")
    assert hits.status_code == 200
    assert [h["slug"] for h in hits.json()["items"]] == ["power-use"]
    everything = get(server, "/search")
    assert [h["slug"] for h in everything.json()["items"]] == ["power-use"]
    listed = get(server, "/products")
    assert [p["slug"] for p in listed.json()["items"]] == ["power-use"]
    assert listed.json()["total"] == 1
    sheet = get(server, "/products/power-use")
    assert sheet.status_code == 200 and sheet.json()["title_zh"] == "企业月度用电量"
    assert {t["name"] for t in sheet.json()["tables"]} == {"monthly", "districts"}

    quality = get(server, "/products/power-use/listing").json()
    assert quality["status"] == "listed" and quality["quality"] is not None
    assert quality["compliance"] is None  # the full review is the provider's and operator's

    offers = get(server, "/products/power-use/offers").json()
    assert [o["id"] for o in offers] == [market["public"]]
    assert get(server, f"/offers/{market['public']}").status_code == 200

    certs = get(server, "/products/power-use/certificates").json()
    assert [(c["number"], c["status"]) for c in certs] == [(market["cert"], "valid")]
    assert get(server, f"/public/certificates/{market['cert']}").status_code == 200

    # Unlisted and private things do not exist for the public, exactly as for others.
    for path in ("/products/secret-draft", "/products/secret-draft/listing",
                 "/products/secret-draft/offers", "/products/secret-draft/certificates",
                 "/products/nope", f"/offers/{market['private']}",
                 f"/offers/{market['withdrawn'] + 1000}"):
        answer = get(server, path)
        assert answer.status_code == 404, path
    # Samples, revisions, agreements and the rest still need an account.
    for path in ("/products/power-use/sample", "/products/power-use/revisions",
                 "/agreements", "/registrations", "/certificates"):
        answer = get(server, path)
        assert code_of(answer) == (401, "token_missing"), path


def test_a_token_given_must_be_valid(server: LiveServer, market: dict[str, Any],
                                     tmp_path: Any) -> None:
    for bearer, code in (("shg_x_y", "token_invalid"), ("nonsense", "token_invalid")):
        answer = httpx.get(f"{server.url}/api/v1/search", params={"q": "用电"},
                           headers={"Authorization": f"Bearer {bearer}"}, timeout=60)
        assert code_of(answer) == (401, code)
    # A Delta Sharing token is for Delta Sharing only, also on public reads.
    profile = market["bank"].sharing_profile("p")
    answer = httpx.get(f"{server.url}/api/v1/products/power-use",
                       headers={"Authorization": f"Bearer {profile['bearerToken']}"},
                       timeout=60)
    assert code_of(answer) == (403, "token_scope")
    # Signed in, the bank also sees the offer made for it; the provider its draft.
    with Client(server.url, market["bank"].token) as bank:
        assert {o.id for o in bank.list_offers("power-use")} == {market["public"],
                                                                 market["private"]}
    assert market["grid"].get_product("secret-draft").status == "draft"


def test_the_public_notice(server: LiveServer, operator: Client, orgs: Orgs,
                           exchange: Exchange) -> None:
    grid = orgs.new(["provider"], "电网公司")
    bank = orgs.new(["consumer"], "银行")
    make_product(grid, "unlisted-power")
    reg_id = draft(grid, "unlisted-power")
    assert get(server, "/public/notices").json()["items"] == []
    assert get(server, f"/public/notices/{reg_id}").status_code == 404  # a draft
    to_notice(operator, grid, reg_id)
    page = get(server, "/public/notices")
    assert page.status_code == 200 and page.json()["total"] == 1
    [notice] = page.json()["items"]
    assert notice["id"] == reg_id and notice["kind"] == "initial"
    assert notice["applicant"].startswith("电网公司") and notice["objection_deadline"]
    assert {r["code"] for r in notice["rights"]} == {"holding", "processing_use", "operation"}
    assert notice["algorithm_rules"] and notice["fingerprint_root"]
    # What the notice does not publish: documents, review notes, an unlisted product.
    assert notice["product"] is None and notice["product_title"] is None
    assert not {"documents", "review_note", "applicant_org_id"} & set(notice)
    assert get(server, f"/public/notices/{reg_id}").json() == notice
    with Client(server.url) as anonymous:
        assert [n.id for n in anonymous.public_notices().items] == [reg_id]
    # Objecting needs an account.
    refused = httpx.post(f"{server.url}/api/v1/registrations/{reg_id}/objections",
                         json={"reason": "异议"}, timeout=60)
    assert refused.status_code == 401
    assert bank.file_objection(reg_id, "数据来源存疑").status == "open"
    # When the notice ends it leaves the public list.
    end_notice(exchange, reg_id)
    assert get(server, "/public/notices").json()["items"] == []
    assert code_of(get(server, f"/public/notices/{reg_id}")) == (404, "notice_not_found")
    for bad in ({"limit": 0}, {"page_token": "nope"}, {"limit": "x"}):
        assert get(server, "/public/notices", **bad).status_code in (400, 422)


def test_cli_search_and_notices_without_a_token(server: LiveServer,
                                                market: dict[str, Any]) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["--url", server.url, "--json", "search", "用电"],
                           env={"SHUGU_TOKEN": ""})
    assert result.exit_code == 0, result.output
    assert [h["slug"] for h in json.loads(result.output)] == ["power-use"]
    result = runner.invoke(app, ["--url", server.url, "registration", "notices"],
                           env={"SHUGU_TOKEN": ""})
    assert result.exit_code == 0 and "(none)" in result.output
    with pytest.raises(ShuguAPIError) as info, Client(server.url) as anonymous:
        anonymous.product_sample("power-use")
    assert info.value.code == "token_missing"


@pytest.mark.parametrize("width", [40, 60, 80, 200])
def test_cli_search_never_cuts_slugs(server: LiveServer, operator: Client, orgs: Orgs,
                                     width: int) -> None:
    grid = orgs.new(["provider"], "浙江数谷示范电网有限公司很长的名字")
    slug = "zj-enterprise-power-monthly-by-district"
    grid.create_product(slug, "浙江省企业月度用电量（按区县、行业、规模）",
                        title_en="Monthly electricity use of enterprises in Zhejiang")
    list_product(grid, operator, slug)
    result = CliRunner().invoke(app, ["--url", server.url, "search", "用电"],
                                env={"SHUGU_TOKEN": "", "COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    assert slug in result.output
