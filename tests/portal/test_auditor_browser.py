"""The auditor's pages in Debian's chromium: an event page verifies its inclusion proof and
the signed tree head in the browser (WebCrypto), a tampered proof shows ✗, and the
certificate verifier shows a valid certificate — with screenshots."""

from __future__ import annotations

import json

from shugu.client import Client
from shugu.runtime import Exchange
from tests.portal.conftest import Browsing, Signup
from tests.rights.conftest import draft, make_product, through


def test_event_page_verifies_its_proof_in_the_browser(browsing: Browsing,
                                                      signup: Signup) -> None:
    auditor = signup(["auditor"], "审计事务所")
    signup(["provider"], "另一家公司")  # a few more events, so the audit path is longer
    page = browsing.page_for(auditor, lang="en")
    page.goto("/auditor/ledger")
    page.get_by_role("link", name="3", exact=True).click()
    page.wait_for_url("**/auditor/ledger/3")
    verdict = page.locator("#verdict")
    verdict.filter(has_text="Every check passed").wait_for()
    marks = page.locator("#checks .mark").all_inner_texts()
    assert marks == ["✓", "✓", "✓", "✓"], marks
    browsing.shot(page, "event-verified")

    # The same checks with a wrong sibling hash: the root check fails, and the page says so.
    results = page.evaluate("""async () => {
        const last = window.shuguAuditor.last;
        const proof = JSON.parse(JSON.stringify(last.proof));
        proof.audit_path[0] = "00".repeat(32);
        const r = await window.shuguAuditor.check(last.event, proof, last.sth);
        window.shuguAuditor.render(r);
        return r;
    }""")
    assert results["root"]["ok"] is False and results["leaf"]["ok"] is True
    assert results["signature"]["ok"] is True
    assert page.locator('#checks li[data-check="root"] .mark').inner_text() == "✗"
    assert "A check failed" in verdict.inner_text()
    # A payload altered in the page: the payload check fails.
    altered = page.evaluate("""async () => {
        const last = window.shuguAuditor.last;
        const opening = Object.assign({}, last.event.opening,
                                      {payload_json: last.event.opening.payload_json + " "});
        const event = Object.assign({}, last.event, {opening: opening});
        return (await window.shuguAuditor.check(event, last.proof, last.sth)).payload.ok;
    }""")
    assert altered is False
    browsing.shot(page, "event-tampered")
    # "Verify again" fetches the real proof and every check passes again.
    page.get_by_role("button", name="Verify again").click()
    verdict.filter(has_text="Every check passed").wait_for()

    phone = browsing.page_for(auditor, mobile=True)
    phone.goto("/auditor/ledger/3")
    phone.locator("#verdict").filter(has_text="全部检查通过").wait_for()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the event page scrolls sideways on a phone ({width}px)"
    browsing.shot(phone, "event-phone")


def test_certificate_verifier_shows_a_valid_certificate(
        browsing: Browsing, exchange: Exchange, operator: Client, signup: Signup) -> None:
    provider = signup(["provider"], "电力数据公司")
    auditor = signup(["auditor"], "审计事务所")
    number = through(operator, provider.api, exchange,
                     draft(provider.api, make_product(provider.api, "power-web")))
    cert_file = operator.certificate_file(number).model_dump_json(indent=2)
    page = browsing.page_for(auditor)
    page.goto("/auditor/certificates")
    page.get_by_label("证书文件 (JSON)").fill(cert_file)
    page.get_by_role("button", name="核验").click()
    page.wait_for_url("**/auditor/certificates")
    verdict = page.locator("#cert-verdict")
    assert "✓ 证书文件有效" in verdict.inner_text() and number in verdict.inner_text()
    assert page.locator("#public-status").inner_text() == "有效"
    browsing.shot(page, "certificate-valid")
    # Choosing the file (the script reads it into the box) works the same.
    page.goto("/auditor/certificates")
    page.set_input_files("#cert-file", files=[{
        "name": "cert.json", "mimeType": "application/json",
        "buffer": json.dumps(json.loads(cert_file)).encode()}])
    page.wait_for_function("document.getElementById('cert-text').value.length > 0")
    page.get_by_role("button", name="核验").click()
    assert "✓" in page.locator("#cert-verdict").inner_text()
    page.goto(f"/auditor/certificates?number={number}")
    assert page.locator("#public-status").inner_text() == "有效"
