"""The whole trade in Debian's chromium, every step through the portal's own pages:
a provider lists a product → the operator approves it → the provider publishes an offer and
analysis rules → a consumer finds it, concludes the contract and runs sandbox queries (one
refused with its reason, one answered with the remaining quota) → the operator bills and
settles → an auditor verifies the trade voucher and the voucher's ledger event in the page.
Screenshots of each step go to build/screenshots/test_whole_trade_in_the_browser/."""

from __future__ import annotations

import json
import time
from pathlib import Path

from shugu.client import Client
from shugu.portal.i18n import MESSAGES
from shugu.runtime import Exchange
from tests.portal.conftest import Browsing, Signup
from tests.portal.test_operator_pages import now_cst, operator_member

ZH, EN = MESSAGES["zh"], MESSAGES["en"]
SLUG = "hz-meter-usage"
METERS = 600
CSV = b"meter,region,kwh\n" + b"".join(
    f"m{i:05d},{('east', 'west', 'north', 'south')[i % 4]},{100 + i % 97}\n".encode()
    for i in range(METERS))


def test_whole_trade_in_the_browser(browsing: Browsing, signup: Signup, exchange: Exchange,
                                    operator: Client) -> None:
    grid = signup(["provider"], "浙江电网公司")
    bank = signup(["consumer"], "杭州银行")
    bureau = signup(["auditor"], "浙江省数据局")

    # 1. The provider creates the product, uploads its data and submits it for listing.
    prov = browsing.page_for(grid)
    prov.goto("/provider/products/new")
    prov.get_by_label(ZH["prov.slug"]).fill(SLUG)
    prov.get_by_label(ZH["prov.title_zh"]).fill("杭州表计月度用电")
    prov.get_by_label(ZH["prov.title_en"]).fill("Hangzhou metered power use")
    prov.get_by_label(ZH["product.frequency"]).select_option("monthly")
    prov.click("#create-product")
    prov.wait_for_url(f"**/provider/products/{SLUG}?done=prov_created")
    prov.get_by_label(ZH["prov.table_name"]).fill("usage")
    prov.click("#add-table")
    prov.wait_for_url("**?done=prov_table_added")
    prov.set_input_files("#upload-file-usage", files=[
        {"name": "usage.csv", "mimeType": "text/csv", "buffer": CSV}])
    prov.select_option("#upload-format-usage", "csv")
    prov.click("#upload-submit-usage")
    prov.wait_for_function(
        "document.querySelector('form[data-upload]').dataset.result === 'ok'")
    assert prov.locator("#upload-progress-usage").evaluate("p => p.value") == 100
    browsing.shot(prov, "provider-uploaded")
    prov.click("#tab-listing")
    prov.click("#submit-listing")
    prov.wait_for_url("**/listing?done=prov_submitted")
    assert prov.locator("#risk-grade").get_attribute("data-grade") == "low"

    # 2. The operator approves it from the review queue.
    ops = browsing.page_for(operator_member(exchange, operator))
    ops.goto("/operator/listings")
    ops.get_by_role("link", name=SLUG).first.click()
    ops.get_by_label("提供方分成（基点）").fill("9000")
    ops.get_by_label("平台分成（基点）").fill("1000")
    ops.get_by_role("button", name="批准上架").click()
    ops.wait_for_url(lambda url: "done=op_listing_approved" in url)
    browsing.shot(ops, "operator-approved")

    # 3. The provider publishes an instant per-query offer and the analysis rules.
    prov.click("#tab-offers")
    prov.get_by_label(ZH["offers.name"]).fill("按次查询")
    prov.get_by_label(ZH["offers.plan"]).select_option("per_query")
    prov.get_by_label(ZH["offers.price"]).fill("0.50")
    prov.check("#approval-instant")
    prov.check("#mode-sandbox")
    prov.get_by_label(ZH["prov.quota.queries"]).fill("100")
    prov.click("#create-offer")
    prov.wait_for_url("**/offers?done=prov_offer")
    prov.click("#tab-rules")
    box = prov.locator("#rules-json-usage")
    rules = json.loads(box.input_value())
    assert rules["columns"]["meter"] == {"role": "identity"}
    rules["min_identities"] = 5
    box.fill(json.dumps(rules, indent=2))
    prov.click("#rules-save-usage")
    prov.wait_for_url("**/rules?done=prov_rules&table=usage")
    browsing.shot(prov, "provider-rules")

    # 4. The bank finds the product, concludes the contract and uses the sandbox.
    bank_page = browsing.page_for(bank, lang="en")
    bank_page.get_by_label(EN["catalog.search"]).fill("metered")
    bank_page.get_by_role("button", name=EN["catalog.submit"]).click()
    bank_page.get_by_role("link", name="Hangzhou metered power use").click()
    bank_page.wait_for_url(f"**/products/{SLUG}")
    bank_page.get_by_role("link", name="按次查询").click()
    bank_page.wait_for_url("**/consumer/offers/*")
    bank_page.locator("#cons-request-purpose").select_option("credit_risk")
    bank_page.click("#cons-request-submit")
    bank_page.wait_for_url("**/consumer/agreements/*")
    assert bank_page.locator("#cons-agreement-number").inner_text().startswith("SG-AGR-")
    browsing.shot(bank_page, "consumer-agreement")
    bank_page.click("#cons-open-sandbox")
    bank_page.wait_for_url("**/consumer/sandbox*")
    table = f'"{SLUG}".usage'
    bank_page.locator("#cons-sb-sql").fill(f"SELECT meter, SUM(kwh) FROM {table} GROUP BY meter")
    bank_page.click("#cons-sb-run")
    bank_page.wait_for_url("**query=*")
    assert "identity_not_allowed" in bank_page.get_by_role("alert").inner_text()
    browsing.shot(bank_page, "consumer-refused")
    bank_page.locator("#cons-sb-sql").fill(
        f"SELECT region, COUNT(*) AS meters, SUM(kwh) AS kwh FROM {table} GROUP BY region")
    bank_page.click("#cons-sb-run")
    bank_page.wait_for_selector("#cons-sb-result")
    assert bank_page.locator("#cons-sb-result tbody tr").count() == 4
    assert bank_page.locator("#cons-sb-queries-left").inner_text() == "99"
    browsing.shot(bank_page, "consumer-answer")

    # 5. The operator bills the month so far and settles.
    time.sleep(1.1)  # the cut-off is to the second
    ops.goto("/operator/billing")
    ops.locator("form[action='/operator/billing/run'] input[name=until]").fill(now_cst())
    ops.get_by_role("button", name="生成账单").click()
    ops.wait_for_url(lambda url: "done=op_billing_run" in url)
    ops.get_by_role("button", name="发起结算").click()
    ops.wait_for_url("**/operator/settlements/**")
    statement = ops.locator("#statement").inner_text()
    assert "0.50" in statement and "0.45" in statement and "0.05" in statement, statement
    browsing.shot(ops, "operator-settled")

    # 6. The bank hands the voucher evidence to the auditor, who verifies it, and then the
    #    voucher's ledger event with its inclusion proof, in the page.
    bank_page.click("#cons-nav-invoices")
    bank_page.locator("#cons-invoices tbody a").first.click()
    with bank_page.expect_download() as info:
        bank_page.click("#cons-voucher-evidence")
    bundle = Path(info.value.path()).read_text(encoding="utf-8")
    aud = browsing.page_for(bureau)
    aud.goto("/auditor/vouchers")
    aud.get_by_label(ZH["aud.paste_bundle"]).fill(bundle)
    aud.get_by_role("button", name=ZH["aud.verify_button"]).click()
    verdict = aud.locator("#voucher-verdict").inner_text()
    assert "✓" in verdict and "SG-VCH-" in verdict, verdict
    browsing.shot(aud, "auditor-voucher")
    aud.goto("/auditor/ledger?action=voucher.issued")
    aud.locator("#events tbody a").first.click()
    aud.locator("#verdict").filter(has_text="全部检查通过").wait_for()
    assert aud.locator("#checks .mark").all_inner_texts() == ["✓", "✓", "✓", "✓"]
    browsing.shot(aud, "auditor-event")
