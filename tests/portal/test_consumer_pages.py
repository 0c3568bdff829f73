"""The consumer pages over HTTP (httpx): offer → contract → agreement → sharing profile,
the sandbox editor, negotiations with every consumer message, invoices and vouchers.
Every state change is checked through the SDK afterwards; other organisations get 404."""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import delta_sharing
import httpx

from shugu.billing import voucher_check
from shugu.client import Client
from shugu.db import utcnow
from tests.conftest import LiveServer, list_product
from tests.portal.conftest import Member, Signup, post_form, signed_in_web
from tests.sandbox.conftest import RULES, parquet_bytes, usage_rows

SLUG = "grid-usage"
T = f'"{SLUG}".usage'
T_DP = f'"{SLUG}".usage_dp'


def policy(*, modes: tuple[str, ...] = ("share", "sandbox"), quota: int = 10,
           epsilon: float | None = 5, duty: bool = True) -> dict[str, Any]:
    constraints: list[dict[str, Any]] = [
        {"leftOperand": "deliveryMode", "operator": "isAnyOf", "rightOperand": list(modes)},
        {"leftOperand": "purpose", "operator": "isAnyOf",
         "rightOperand": ["credit_risk", "marketing_analysis"]},
        {"leftOperand": "count", "operator": "lteq", "rightOperand": quota, "unit": "queries"},
    ]
    if epsilon is not None:
        constraints.append({"leftOperand": "epsilon", "operator": "lteq",
                            "rightOperand": epsilon})
    perm: dict[str, Any] = {"action": "use", "constraint": constraints}
    if duty:
        perm["duty"] = [{"action": "delete"}]
    return {"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer",
            "permission": [perm], "prohibition": [{"action": "distribute"}]}


def dp_rules() -> dict[str, Any]:
    rules = copy.deepcopy(RULES)
    rules["mode"] = "dp"
    rules["dp"] = {"epsilon_per_query": 1.0}
    rules["columns"]["kwh"].update(lower=0.0, upper=5000.0)  # type: ignore[index]
    rules["joins"] = []
    return rules


@dataclass
class Market:
    provider: Member
    consumer: Member
    offer_id: int


def build(signup: Signup, operator: Client, *, sandbox: bool = True,
          approval: str = "instant", price_fen: int = 100_00) -> Market:
    """A grid company lists its usage product (an aggregate table and a DP table, both with
    analysis rules) with one offer; a bank holds the consumer role."""
    provider = signup(["provider"], "浙江电网公司")
    consumer = signup(["consumer"], "杭州银行")
    api = provider.api
    api.create_product(SLUG, "企业用电量", title_en="Company power use")
    if sandbox:
        data = parquet_bytes(usage_rows())
        for table, rules in (("usage", RULES), ("usage_dp", dp_rules())):
            api.create_table(SLUG, table)
            api.ingest(SLUG, table, data, format="parquet")
            api.set_analysis_rules(SLUG, table, rules)
        list_product(api, operator, SLUG, data=None)
    else:
        list_product(api, operator, SLUG)
    offer = api.create_offer(SLUG, "标准报价", plan="one_time", price_fen=price_fen,
                             policy=policy(), approval=approval)
    return Market(provider, consumer, offer.id)


def usage_under_dp(m: Market) -> None:
    """Put the exact "usage" table under entity-level DP (joins with own tables allowed,
    every company's four months counted) and give the bank's entitlement a budget: exact
    answers never join a consumer's own table."""
    rules = copy.deepcopy(RULES)
    rules["mode"] = "dp"
    rules["dp"] = {"epsilon_per_query": 8, "max_rows_per_identity": 4}
    rules["columns"]["kwh"].update(lower=0, upper=5000)  # type: ignore[index]
    m.provider.api.set_analysis_rules(SLUG, "usage", rules)
    m.provider.api.set_privacy_budget(m.consumer.api.list_entitlements()[0].id, 100)


def page(web: httpx.Client, path: str, status: int = 200) -> str:
    r = web.get(path)
    assert r.status_code == status, (path, r.status_code, r.text[:800])
    return r.text


def refused(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, (r.status_code, r.text[:800])
    assert f"<code>{code}</code>" in r.text, r.text[:1500]


def test_offer_contract_profile_invoice_and_voucher(
        signup: Signup, operator: Client, server: LiveServer, tmp_path: Path) -> None:
    m = build(signup, operator)
    web = signed_in_web(server, m.consumer)
    stranger = signup(["consumer"], "别家银行")
    other = signed_in_web(server, stranger)
    provider_web = signed_in_web(server, m.provider)
    try:
        # Only consumer organisations have consumer pages.
        page(provider_web, "/consumer", 404)
        assert page(web, "/consumer?lang=en").count("None yet.") == 3
        # The offer, readable, in both languages; the "check my use" evaluation.
        zh = page(web, f"/consumer/offers/{m.offer_id}?lang=zh")
        assert "信贷风控" in zh and "禁止向他人转让或分发数据" in zh and "最多 10 次查询" in zh
        en = page(web, f"/consumer/offers/{m.offer_id}?lang=en&check=1&purpose=model_training")
        assert "Not allowed" in en and "purpose_not_allowed" in en
        en = page(web, f"/consumer/offers/{m.offer_id}?check=1&purpose=credit_risk&mode=sandbox")
        assert "Allowed:" in en and "mode_allowed" in en
        refused(web.get(f"/consumer/offers/{m.offer_id}?check=1&mode=ftp"), 422, "invalid_request")
        # A private offer to someone else is not there at all.
        private = m.provider.api.create_offer(
            SLUG, "专享", plan="one_time", price_fen=1, policy=policy(),
            visibility="private", private_org_id=stranger.api.org_id)  # type: ignore[attr-defined]
        page(web, f"/consumer/offers/{private.id}", 404)
        page(other, f"/consumer/offers/{private.id}")
        page(web, "/consumer/offers/999999", 404)
        for bad in ("/consumer/offers/abc", "/consumer/negotiations/1x",
                    "/consumer/agreements/-1", "/consumer/sandbox?query=x"):
            assert "<h1>Page not found</h1>" in page(web, bad, 404)

        path = f"/consumer/offers/{m.offer_id}"
        action = f"{path}/request"
        # No CSRF token: 403 and nothing happens.
        r = web.post(action, data={"purpose": "credit_risk"})
        assert r.status_code == 403
        assert m.consumer.api.list_negotiations().items == []
        # A purpose the policy does not allow: the domain's refusal, with its code.
        refused(post_form(web, path, action, {"purpose": "model_training"}), 403,
                "policy_denied")
        refused(post_form(web, path, action, {"purpose": ""}), 422, "invalid_request")
        refused(post_form(web, path, action, {"purpose": "credit_risk", "price_yuan": "1.234"}),
                400, "invalid_amount")
        assert m.consumer.api.list_negotiations().items == []
        # The instant offer concludes at once.
        r = post_form(web, path, action, {"purpose": "credit_risk", "purpose_text": "授信"})
        assert r.status_code == 303
        [agreement] = m.consumer.api.list_agreements().items
        assert r.headers["location"] == \
            f"/consumer/agreements/{agreement.id}?done=cons_concluded"
        text = page(web, r.headers["location"])
        assert agreement.number in text and agreement.terms_hash in text
        assert "The agreement is concluded" in text and 'data-quota="queries">10<' in text
        assert 'data-quota="epsilon">5.0<' in text
        page(other, f"/consumer/agreements/{agreement.id}", 404)
        page(other, f"/consumer/negotiations/{agreement.negotiation_id}", 404)
        dashboard = page(web, "/consumer")
        assert agreement.number in dashboard and 'id="cons-count-agreements">1<' in dashboard
        assert agreement.number not in page(other, "/consumer/agreements")
        detail = page(web, f"/consumer/negotiations/{agreement.negotiation_id}")
        assert detail.count("<tr><td>") == 4  # request, agree, verify, finalize

        # The Delta Sharing profile: a download the official client reads.
        ag_path = f"/consumer/agreements/{agreement.id}"
        r = web.post(f"{ag_path}/profile", data={"expires_in_days": "30"})
        assert r.status_code == 403
        r = post_form(web, ag_path, f"{ag_path}/profile", {"expires_in_days": "30"})
        assert r.status_code == 200, r.text[:500]
        assert r.headers["content-disposition"] == f'attachment; filename="{SLUG}.share"'
        profile = r.json()
        assert profile["shareCredentialsVersion"] == 1 and profile["expirationTime"]
        file = tmp_path / f"{SLUG}.share"
        file.write_text(r.text)
        frame = delta_sharing.load_as_pandas(f"{file}#{SLUG}.default.usage")
        assert len(frame) == 608
        refused(post_form(web, ag_path, f"{ag_path}/profile", {"expires_in_days": "x"}), 400,
                "invalid_form")
        r = post_form(other, "/consumer", f"{ag_path}/profile", {})
        assert r.status_code == 404

        # Billing: the invoice and, once settled, its voucher with the evidence file.
        [invoice] = operator.run_billing(utcnow())
        text = page(web, "/consumer")
        assert invoice.number in text and "100.00" in text
        page(other, f"/consumer/invoices/{invoice.number}", 404)
        operator.settle()
        text = page(web, "/consumer/invoices?lang=en")
        assert invoice.number in text and "settled" in text
        refused(web.get("/consumer/invoices?status=paid"), 400, "invalid_status")
        text = page(web, f"/consumer/invoices/{invoice.number}")
        voucher = re.search(r'id="cons-voucher-number">([^<]+)<', text)
        assert voucher, text
        r = web.get(f"/consumer/vouchers/{voucher.group(1)}/evidence")
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
        bundle = r.json()
        assert bundle == m.consumer.api.voucher_evidence(voucher.group(1))
        key = m.consumer.api.public_key().public_key
        assert f'id="cons-platform-key">{key}<' in text
        assert voucher_check.verify(bundle, key).ok
        page(other, f"/consumer/vouchers/{voucher.group(1)}/evidence", 404)

        # Terminating: no reason is refused; then the entitlement is revoked and the delete
        # duty falls due and is confirmed.
        refused(post_form(web, ag_path, f"{ag_path}/terminate", {"reason": " "}), 422,
                "invalid_request")
        r = web.post(f"{ag_path}/terminate", data={"reason": "x", "csrf_token": "forged"})
        assert r.status_code == 403
        assert m.consumer.api.get_agreement(agreement.id).status == "active"
        r = post_form(web, ag_path, f"{ag_path}/terminate", {"reason": "项目结束"})
        assert r.status_code == 303
        after = m.consumer.api.get_agreement(agreement.id)
        assert after.status == "terminated" and after.deletion_duty == "due"
        assert m.consumer.api.get_entitlement(after.entitlement_id).revoked_at is not None
        r = post_form(web, ag_path, f"{ag_path}/confirm-deletion", {})
        assert r.status_code == 303
        assert m.consumer.api.get_agreement(agreement.id).deletion_duty == "fulfilled"
        refused(post_form(web, ag_path, f"{ag_path}/confirm-deletion", {}), 409,
                "deletion_already_confirmed")
        # Both languages on the lists; the stranger's lists stay empty.
        assert "已终止" in page(web, "/consumer/agreements?lang=zh")
        assert "已结算" in page(web, "/consumer/invoices")
        assert "数据使用方工作台" in page(web, "/consumer")
        assert "terminated" in page(web, "/consumer/agreements?lang=en")
        for listing in ("/consumer/agreements", "/consumer/invoices", "/consumer/negotiations"):
            html = page(other, listing)
            assert agreement.number not in html and invoice.number not in html
            assert "None yet." in html or "暂无。" in html
    finally:
        for c in (web, other, provider_web):
            c.close()
