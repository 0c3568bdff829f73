"""The provider's main journey in Debian's chromium (Playwright), with screenshots:
create a product, add a table, upload a CSV with the progress bar reaching 100 %, submit
for listing, (the operator approves), create an instant offer with sandbox and share
delivery and an ε budget, set the table's analysis rules, see usage; then the same pages on
a phone-sized screen without sideways scrolling."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from shugu.client import Client
from shugu.portal.i18n import MESSAGES
from tests.portal.conftest import Browsing, Signup

ZH = MESSAGES["zh"]
ROWS = 6_000
CSV = b"uscc,region,kwh\n" + b"".join(
    f"9133010{i:011d},{('east', 'west', 'north', 'south')[i % 4]},{100 + i % 997}\n".encode()
    for i in range(ROWS))

# Records every value the progress bar shows (aria-valuenow changes) from the start.
WATCH_PROGRESS = """
window.__progress = [];
new MutationObserver(function (changes) {
  changes.forEach(function (c) { window.__progress.push(Number(c.target.value)); });
}).observe(document.querySelector("#upload-progress-usage"),
           {attributes: true, attributeFilter: ["aria-valuenow"]});
"""


def test_provider_journey_in_a_browser(browsing: Browsing, signup: Signup,
                                       operator: Client) -> None:
    grid = signup(["provider"], "浙江电网公司")
    page = browsing.page_for(grid)
    page.get_by_role("link", name=ZH["nav.provider"]).click()
    page.wait_for_url("**/provider")
    browsing.shot(page, "dashboard-empty")

    # Create the product through the form (labels come from the message catalogue).
    page.click("#new-product")
    page.get_by_label(ZH["prov.slug"]).fill("power-use")
    page.get_by_label(ZH["prov.title_zh"]).fill("企业月度用电量")
    page.get_by_label(ZH["prov.title_en"]).fill("Monthly power use")
    page.get_by_label(ZH["product.source"]).fill("自有抄表系统")
    page.get_by_label(ZH["product.frequency"]).select_option("monthly")
    page.get_by_label(ZH["product.category"]).fill("能源")
    page.get_by_label(ZH["product.tags"]).fill("电力, 月度")
    browsing.shot(page, "new-product")
    page.click("#create-product")
    page.wait_for_url("**/provider/products/power-use?done=prov_created")
    assert page.get_by_role("status").first.inner_text() == ZH["done.prov_created"]

    # Add a table, then upload a CSV: the progress bar reaches 100 %.
    page.get_by_label(ZH["prov.table_name"]).fill("usage")
    page.click("#add-table")
    page.wait_for_url("**?done=prov_table_added")
    assert page.locator("form[data-upload]").is_visible()  # shown by provider.js
    page.evaluate(WATCH_PROGRESS)
    page.set_input_files("#upload-file-usage", files=[
        {"name": "usage.csv", "mimeType": "text/csv", "buffer": CSV}])
    page.select_option("#upload-format-usage", "csv")
    page.click("#upload-submit-usage")
    status = page.locator("#upload-status-usage")
    page.wait_for_function(
        "document.querySelector('form[data-upload]').dataset.result === 'ok'")
    assert page.locator("#upload-progress-usage").evaluate("p => p.value") == 100
    seen = page.evaluate("window.__progress")
    assert seen and seen[-1] == 100 and seen == sorted(seen), seen
    assert re.search(rf"版本 0.*{ROWS} 行", status.inner_text()), status.inner_text()
    browsing.shot(page, "uploaded")
    assert grid.api.get_product("power-use").tables[0].row_count == ROWS
    page.click(".prov-reload")
    assert page.locator("#rows-usage").inner_text() == f"{ROWS:,}"  # digit grouping

    # Submit for listing: the scan and the quality report; the operator approves.
    page.click("#tab-listing")
    page.click("#submit-listing")
    page.wait_for_url("**/listing?done=prov_submitted")
    assert page.locator("#risk-grade").get_attribute("data-grade") == "low"
    browsing.shot(page, "listing-submitted")
    operator.approve_listing(grid.api.get_listing("power-use").id)
    page.reload()
    assert ZH["prov.st.listed"] in page.locator("#product-status").inner_text()

    # An instant offer: sandbox and share delivery, an ε budget.
    page.click("#tab-offers")
    page.get_by_label(ZH["offers.name"]).fill("按次查询")
    page.get_by_label(ZH["offers.plan"]).select_option("per_query")
    page.get_by_label(ZH["offers.price"]).fill("0.50")
    page.check("#approval-instant")
    page.check("#mode-sandbox")
    page.check("#mode-share")
    page.get_by_label(ZH["prov.epsilon"]).fill("2")
    page.get_by_label(ZH["prov.quota.queries"]).fill("1000")
    browsing.shot(page, "offer-form")
    page.click("#create-offer")
    page.wait_for_url("**/offers?done=prov_offer")
    (offer,) = grid.api.list_offers("power-use")
    constraints = offer.policy["permission"][0]["constraint"]
    assert constraints[0]["rightOperand"] == ["share", "sandbox"] and offer.price_fen == 50
    assert {"leftOperand": "epsilon", "operator": "lteq", "rightOperand": 2} in constraints
    browsing.shot(page, "offer-created")

    # Analysis rules: aggregate mode with k, a dimension and an aggregatable column.
    page.click("#tab-rules")
    box = page.locator("#rules-json-usage")
    rules = json.loads(box.input_value())
    assert rules["columns"]["region"] == {"role": "dimension"}
    rules["min_identities"] = 20
    rules["columns"]["kwh"]["functions"] = ["SUM", "AVG"]
    box.fill(json.dumps(rules, indent=2))
    page.click("#rules-save-usage")
    page.wait_for_url("**/rules?done=prov_rules&table=usage")
    assert "1" in page.locator("#rules-version-usage").inner_text()
    saved = grid.api.analysis_rules("power-use", "usage")
    assert saved.version == 1 and saved.rules.min_identities == 20
    browsing.shot(page, "rules-saved")

    # Later: a bank buys, queries the sandbox; the operator bills and settles.
    bank = signup(["consumer"], "杭州银行")
    assert bank.api.request_offer(offer.id, "credit_risk").state == "FINALIZED"
    for _ in range(2):
        bank.api.sandbox_query('SELECT region, SUM(kwh) AS kwh FROM "power-use".usage '
                               "GROUP BY region")
    operator.run_billing(until=datetime.now(UTC))
    operator.settle()
    page.goto("/provider/usage")
    assert page.get_by_role("heading", name=ZH["prov.usage_by_month"]).is_visible()
    assert page.locator("#agreements").get_by_text("杭州银行").is_visible()
    assert page.locator("#usage-chart-1 rect.bar").count() == 12
    month = page.locator("#revenue-table tbody tr").last.inner_text()
    assert "1.00" in month and "0.90" in month  # 2 queries × 0.50; 90 % to the provider
    browsing.shot(page, "usage")

    # The same pages on a phone: nothing scrolls sideways.
    phone = browsing.page_for(grid, lang="en", mobile=True)
    base = "/provider/products/power-use"
    for path in ("/provider", base, f"{base}/revisions", f"{base}/registrations",
                 f"{base}/listing", f"{base}/rules", "/provider/usage", f"{base}/offers"):
        phone.goto(path)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone ({width}px)"
    browsing.shot(phone, "offers-phone")

    # Without JavaScript the upload form stays hidden and the page says what to do instead.
    context = browsing.browser.new_context(  # type: ignore[attr-defined]
        base_url=browsing.server.url, java_script_enabled=False)
    browsing.contexts.append(context)
    plain = context.new_page()
    plain.goto("/login?next=/provider/products/power-use")
    plain.fill("input[name=username]", grid.username)
    plain.fill("input[name=password]", grid.password)
    plain.click("form.login button[type=submit]")
    plain.wait_for_url("**/provider/products/power-use")
    assert not plain.locator("form[data-upload]").is_visible()
    assert "shugu ingest power-use usage" in plain.locator("main").inner_text()
    browsing.shot(plain, "data-without-js")
