"""The operator's portal pages over real HTTP: the dashboard, listing review, the
registration queue with public notice and objections, billing and settlement. Each state
change is checked through the API afterwards; bad input shows the stable code; a missing
CSRF token changes nothing; another organisation gets 404 everywhere."""

from __future__ import annotations

import re
import time
from contextlib import closing
from datetime import datetime

import httpx

from shugu.billing.periods import CST
from shugu.client import Client
from shugu.runtime import Exchange
from tests.conftest import LiveServer, list_product
from tests.portal.conftest import Member, Signup, csrf_of, post_form, signed_in_web
from tests.rights.conftest import draft, end_notice, make_product


def operator_member(exchange: Exchange, operator: Client) -> Member:
    assert exchange.first_start is not None
    return Member(exchange.first_start.username, exchange.first_start.password, operator)


def product_in_review(provider: Member, slug: str) -> int:
    """A product with a table holding a phone number column, submitted for listing."""
    provider.api.create_product(slug, "企业联系人名录", title_en="Company contacts")
    provider.api.create_table(slug, "contacts")
    provider.api.ingest(slug, "contacts",
                        "name,phone\n张三,13812345678\n李四,13987654321\n".encode(),
                        format="csv")
    return provider.api.submit_listing(slug).id


POLICY = {"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer",
          "permission": [{"action": "use", "constraint": [
              {"leftOperand": "deliveryMode", "operator": "isAnyOf",
               "rightOperand": ["share", "sandbox"]}]}]}


def now_cst() -> str:
    return datetime.now(CST).strftime("%Y-%m-%dT%H:%M:%S")


def agreement_on(provider: Member, consumer: Member, operator: Client, slug: str,
                 price_fen: int = 1_000_000) -> None:
    """A listed product and a one-time agreement concluded on it."""
    provider.api.create_product(slug, "企业月度用电量")
    list_product(provider.api, operator, slug)
    offer = provider.api.create_offer(slug, "one_time", plan="one_time", price_fen=price_fen,
                                      policy=POLICY)
    negotiation = consumer.api.request_offer(offer.id, "credit_risk")
    assert negotiation.state == "FINALIZED"


UNTRANSLATED = re.compile(r">\s*(op|aud|done)\.[a-z_.]+\s*<")


def test_operator_pages_refuse_everyone_else(server: LiveServer, exchange: Exchange,
                                             operator: Client, signup: Signup) -> None:
    # The operator sees every list page in both languages, with no message key left bare.
    with closing(signed_in_web(server, operator_member(exchange, operator))) as web:
        for lang in ("zh", "en"):
            for path in ("/operator", "/operator/registrations", "/operator/objections",
                         "/operator/listings", "/operator/billing"):
                page = web.get(f"{path}?lang={lang}")
                assert page.status_code == 200, path
                assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in page.text
                assert not UNTRANSLATED.search(page.text), (path, lang)
    member = signup(["provider", "consumer", "broker"], "杭州数据公司")
    with closing(signed_in_web(server, member)) as web:
        for path in ("/operator", "/operator/registrations", "/operator/registrations/1",
                     "/operator/objections", "/operator/listings", "/operator/listings/1",
                     "/operator/billing", "/operator/settlements/SG-STL-2026-000001",
                     "/operator/registrations/1/documents/1"):
            assert web.get(path).status_code == 404, path
        csrf = csrf_of(web.get("/").text)
        for action in ("/operator/listings/1/approve", "/operator/listings/1/reject",
                       "/operator/billing/run", "/operator/billing/settle",
                       "/operator/registrations/1/review", "/operator/objections/1/resolve"):
            assert web.post(action, data={"csrf_token": csrf}).status_code == 404, action
    # Signed out: the sign-in page.
    with httpx.Client(base_url=server.url, timeout=60) as anonymous:
        assert anonymous.get("/operator/listings").status_code == 303


def test_listing_review_approve_reject_delist(server: LiveServer, exchange: Exchange,
                                              operator: Client, signup: Signup) -> None:
    provider = signup(["provider"], "联系人数据公司")
    broker = signup(["broker"], "经纪公司")
    first = product_in_review(provider, "contacts-a")
    second = product_in_review(provider, "contacts-b")
    op = operator_member(exchange, operator)
    with closing(signed_in_web(server, op)) as web:
        home = web.get("/operator?lang=en")
        assert home.status_code == 200 and "listings in review" in home.text
        queue = web.get("/operator/listings")
        assert queue.status_code == 200 and "contacts-a" in queue.text \
            and "contacts-b" in queue.text
        page = web.get(f"/operator/listings/{first}")
        assert page.status_code == 200
        # The scan's findings with masked samples, and the quality report.
        assert "mobile" in page.text and "138****5678" in page.text, page.text
        assert "13812345678" not in page.text
        assert "Quality report" in page.text
        base = f"/operator/listings/{first}"
        # A split that does not add up: the domain's code, nothing changes.
        bad = post_form(web, base, f"{base}/approve",
                        {"provider_bp": "9000", "platform_bp": "2000"})
        assert bad.status_code == 400 and "invalid_split" in bad.text
        bad = post_form(web, base, f"{base}/approve", {"provider_bp": "ninety"})
        assert bad.status_code == 400 and "invalid_number" in bad.text
        bad = post_form(web, base, f"{base}/approve", {"broker_org_id": "9" * 30})
        assert bad.status_code == 400 and "invalid_number" in bad.text
        # No CSRF token: 403, still in review.
        assert web.post(f"{base}/approve", data={"provider_bp": "9000"}).status_code == 403
        assert provider.api.get_product("contacts-a").status == "in_review"
        # Approve with a broker share.
        broker_id = str(broker.api.org_id)  # type: ignore[attr-defined]
        ok = post_form(web, base, f"{base}/approve",
                       {"provider_bp": "8500", "platform_bp": "1000", "broker_bp": "500",
                        "broker_org_id": broker_id, "note": "资料完整"})
        assert ok.status_code == 303 and "done=op_listing_approved" in ok.headers["location"]
        assert provider.api.get_product("contacts-a").status == "listed"
        shown = web.get(ok.headers["location"]).text
        assert "Listing approved." in shown and "8,500" in shown  # digit grouping
        # Approving twice: the domain refuses (409), shown as a page.
        again = post_form(web, base, f"{base}/approve", {})
        assert again.status_code == 409 and "listing_not_in_review" in again.text
        # Reject the second: reasons are required.
        other = f"/operator/listings/{second}"
        assert post_form(web, other, f"{other}/reject", {"reasons": "  "}).status_code == 400
        rejected = post_form(web, other, f"{other}/reject",
                             {"reasons": "含未脱敏手机号\n缺少授权证明"})
        assert rejected.status_code == 303
        assert provider.api.get_product("contacts-b").status == "rejected"
        # Delist the first.
        assert post_form(web, base, f"{base}/delist", {"reason": " "}).status_code == 400
        delisted = post_form(web, base, f"{base}/delist", {"reason": "权属争议"})
        assert delisted.status_code == 303
        assert provider.api.get_product("contacts-a").status == "delisted"
        listed = web.get("/operator/listings?status=rejected")
        assert "contacts-b" in listed.text and "contacts-a" not in listed.text
        assert web.get("/operator/listings?status=nope").status_code == 400
        assert web.get("/operator/listings/99999").status_code == 404


def test_registration_review_notice_objection_and_issue(
        server: LiveServer, exchange: Exchange, operator: Client, signup: Signup) -> None:
    provider = signup(["provider"], "电力数据公司")
    stranger = signup(["consumer"], "异议公司")
    slug = make_product(provider.api, "power-reg")
    reg_id = draft(provider.api, slug)
    op = operator_member(exchange, operator)
    with closing(signed_in_web(server, op)) as web:
        # A draft is the applicant's alone.
        assert web.get(f"/operator/registrations/{reg_id}").status_code == 404
        provider.api.submit_registration(reg_id)
        listing = web.get("/operator/registrations?status=formal_review")
        assert listing.status_code == 200 and "企业月度用电量" in listing.text
        page_path = f"/operator/registrations/{reg_id}"
        page = web.get(page_path + "?lang=en")
        assert page.status_code == 200 and "Pass formal review" in page.text
        assert provider.api.fingerprint(slug, 1).root in page.text
        doc_id = provider.api.registration(reg_id).documents[0].id
        doc = web.get(f"{page_path}/documents/{doc_id}")
        assert doc.status_code == 200 and doc.content == "采集说明".encode()
        assert doc.headers["content-disposition"].startswith("attachment")
        action = f"{page_path}/review"
        # Requesting changes needs a note: the domain's code.
        bad = post_form(web, page_path, action, {"decision": "request_changes"})
        assert bad.status_code == 400 and "note_required" in bad.text
        assert post_form(web, page_path, action, {"decision": "maybe"}).status_code == 400
        assert web.post(action, data={"decision": "approve"}).status_code == 403
        assert provider.api.registration(reg_id).status == "formal_review"
        assert post_form(web, page_path, action, {"decision": "approve"}).status_code == 303
        assert provider.api.registration(reg_id).status == "substantive_review"
        assert post_form(web, page_path, action,
                         {"decision": "approve", "note": "材料齐全"}).status_code == 303
        assert provider.api.registration(reg_id).status == "public_notice"
        # An objection while in notice: the queue shows it; issuing is refused until resolved.
        objection = stranger.api.file_objection(reg_id, "该数据部分来自本公司")
        queue = web.get("/operator/objections")
        assert f"/operator/registrations/{reg_id}" in queue.text
        end_notice(exchange, reg_id)
        refused = post_form(web, page_path, f"{page_path}/issue", {})
        assert refused.status_code == 409 and "objections_unresolved" in refused.text
        shown = web.get(page_path).text
        assert "该数据部分来自本公司" in shown and "Dismiss" in shown
        resolve = f"/operator/objections/{objection.id}/resolve"
        assert post_form(web, page_path, resolve, {"decision": "x"}).status_code == 400
        assert post_form(web, page_path, resolve,
                         {"decision": "dismissed", "note": "来源证明充分"}).status_code == 303
        assert provider.api.objections(reg_id)[0].status == "dismissed"
        assert f"/operator/registrations/{reg_id}" not in web.get("/operator/objections").text
        issued = post_form(web, page_path, f"{page_path}/issue", {})
        assert issued.status_code == 303
        reg = provider.api.registration(reg_id)
        assert reg.status == "issued" and reg.issued_certificate
        assert reg.issued_certificate in web.get(page_path).text
        # Refusing an issued registration: 409 invalid_transition.
        late = post_form(web, page_path, f"{page_path}/refuse", {"note": "x"})
        assert late.status_code == 409 and "invalid_transition" in late.text
    # The stranger sees none of the operator's pages.
    with closing(signed_in_web(server, stranger)) as web:
        assert web.get(f"/operator/registrations/{reg_id}").status_code == 404
        assert web.get(f"/operator/registrations/{reg_id}/documents/{doc_id}").status_code \
            == 404


def test_billing_run_and_settlement(server: LiveServer, exchange: Exchange,
                                    operator: Client, signup: Signup) -> None:
    provider = signup(["provider"], "用电数据公司")
    consumer = signup(["consumer"], "银行")
    agreement_on(provider, consumer, operator, "power-bill")
    time.sleep(1.1)  # the cut-off below is to the second, after the agreement
    op = operator_member(exchange, operator)
    with closing(signed_in_web(server, op)) as web:
        page = web.get("/operator/billing?lang=en")
        assert page.status_code == 200 and "Run billing" in page.text
        bad = post_form(web, "/operator/billing", "/operator/billing/run", {"until": "soon"})
        assert bad.status_code == 400 and "invalid_datetime" in bad.text
        future = post_form(web, "/operator/billing", "/operator/billing/run",
                           {"until": "2999-01-01T00:00"})
        assert future.status_code == 400 and "billing_cutoff_in_future" in future.text
        assert web.post("/operator/billing/run", data={"until": now_cst()}).status_code == 403
        assert operator.invoices(role="all").items == []
        run = post_form(web, "/operator/billing", "/operator/billing/run", {"until": now_cst()})
        assert run.status_code == 303 and "issued=1" in run.headers["location"]
        [invoice] = operator.invoices(role="all").items
        assert invoice.total_fen == 1_000_000 and invoice.status == "issued"
        shown = web.get(run.headers["location"]).text
        assert invoice.number in shown and "10,000.00" in shown
        settled = post_form(web, "/operator/billing", "/operator/billing/settle", {})
        assert settled.status_code == 303
        number = re.search(r"/operator/settlements/([^?]+)", settled.headers["location"])
        assert number is not None
        stl = operator.settlement(number.group(1))
        assert stl.invoice_count == 1 and len(stl.vouchers) == 1
        detail = web.get(settled.headers["location"]).text
        # The statement: the consumer pays 10,000.00; the provider receives 9,000.00.
        assert "9,000.00" in detail and "1,000.00" in detail and stl.vouchers[0] in detail
        nothing = post_form(web, "/operator/billing", "/operator/billing/settle", {})
        assert nothing.status_code == 409 and "nothing_to_settle" in nothing.text
        assert web.get("/operator/settlements/SG-STL-1999-000001").status_code == 404
    with closing(signed_in_web(server, consumer)) as web:
        assert web.get(f"/operator/settlements/{stl.number}").status_code == 404


def test_every_literal_message_key_of_both_sections_exists() -> None:
    """Keys written out in the templates and handlers are in both catalogues (a missing key
    would show itself on the page)."""
    from pathlib import Path

    from shugu.portal import i18n

    root = Path(__file__).resolve().parents[2] / "src" / "shugu" / "portal"
    keys: set[str] = set()
    for file in [*(root / "templates" / "operator").glob("*.html"),
                 *(root / "templates" / "auditor").glob("*.html")]:
        keys |= set(re.findall(r"""t\(["']((?:op|aud)\.[a-z_.]+[a-z_])["']""",
                               file.read_text()))
    for file in (root / "operator.py", root / "auditor.py"):
        keys |= {f"done.{k}" for k in re.findall(r'"(op_[a-z_]+)"', file.read_text())}
    assert len(keys) > 100
    for lang in ("zh", "en"):
        missing = sorted(k for k in keys if k not in i18n.MESSAGES[lang])
        assert not missing, (lang, missing)
