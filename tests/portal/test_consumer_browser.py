"""The consumer's journey in Debian's chromium: an instant offer → the contract → the
agreement → the sharing profile download → the sandbox, a refused query and its reason,
then an answered one with the remaining budget → the invoice and the voucher evidence;
the sandbox on a phone."""

from __future__ import annotations

import json
from pathlib import Path

from shugu.billing import voucher_check
from shugu.client import Client
from shugu.db import utcnow
from tests.portal.conftest import Browsing, Signup
from tests.portal.test_consumer_pages import SLUG, T, build, usage_under_dp


def test_offer_contract_profile_and_sandbox_in_a_browser(
        browsing: Browsing, signup: Signup, operator: Client) -> None:
    m = build(signup, operator)
    page = browsing.page_for(m.consumer, lang="en")
    page.goto(f"/products/{SLUG}")
    assert page.get_by_role("heading", name="Company power use").is_visible()
    page.goto(f"/consumer/offers/{m.offer_id}")
    page.locator("#cons-check-purpose").select_option("model_training")
    page.click("#cons-check-submit")
    assert "Not allowed" in page.locator("#cons-decision").inner_text()
    browsing.shot(page, "offer-check")
    page.locator("#cons-request-purpose").select_option("credit_risk")
    page.get_by_label("Purpose in your words").fill("SME credit decisions")
    page.click("#cons-request-submit")
    page.wait_for_url("**/consumer/agreements/*")
    assert page.get_by_role("status").first.inner_text().startswith("The agreement is")
    number = page.locator("#cons-agreement-number").inner_text()
    assert number.startswith("SG-AGR-")
    browsing.shot(page, "agreement")

    with page.expect_download() as info:
        page.click("#cons-profile-download")
    download = info.value
    assert download.suggested_filename == f"{SLUG}.share"
    profile = json.loads(Path(download.path()).read_text(encoding="utf-8"))
    assert profile["endpoint"].endswith("/delta-sharing") and profile["bearerToken"]

    page.click("#cons-open-sandbox")
    page.wait_for_url("**/consumer/sandbox*")
    sql = page.get_by_label("SQL", exact=True)
    sql.fill(f"SELECT uscc, SUM(kwh) AS total FROM {T} GROUP BY uscc")
    page.click("#cons-sb-run")
    page.wait_for_url("**query=*")
    alert = page.get_by_role("alert")
    assert "identity_not_allowed" in alert.inner_text()
    assert page.locator("#cons-sb-queries-left").inner_text() == "10"
    browsing.shot(page, "sandbox-refused")

    page.locator("#cons-sb-sql").fill(
        f"SELECT industry, COUNT(*) AS n, AVG(kwh) AS mean FROM {T} GROUP BY industry")
    page.click("#cons-sb-run")
    page.wait_for_selector("#cons-sb-result")
    assert page.locator("#cons-sb-result tbody tr").count() == 3
    assert page.locator("#cons-sb-queries-before").inner_text() == "10"
    assert page.locator("#cons-sb-queries-left").inner_text() == "9"
    assert page.get_by_role("alert").count() == 0
    browsing.shot(page, "sandbox-answer")

    # Later: the invoice and, once settled, its voucher with the evidence download.
    operator.run_billing(utcnow())
    operator.settle()
    page.click("#cons-nav-invoices")
    page.locator("#cons-invoices tbody a").first.click()
    assert page.locator("#cons-invoice-status").inner_text() == "settled"
    assert page.locator("#cons-invoice-total").inner_text() == "100.00"
    browsing.shot(page, "invoice")
    with page.expect_download() as info:
        page.click("#cons-voucher-evidence")
    bundle = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert voucher_check.verify(bundle, m.consumer.api.public_key().public_key).ok

    phone = browsing.page_for(m.consumer, lang="zh", mobile=True)
    phone.goto("/consumer/sandbox")
    assert phone.locator("#cons-sb-history tbody tr").count() == 2
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the sandbox scrolls sideways on a phone ({width}px)"
    browsing.shot(phone, "sandbox-phone")


def test_own_table_upload_with_progress_join_and_csv(
        browsing: Browsing, signup: Signup, operator: Client, tmp_path: Path) -> None:
    """consumer.js: the upload form appears, sends the file with a progress bar, the table
    is listed; a join with it is answered and its CSV downloads."""
    m = build(signup, operator)
    m.consumer.api.request_offer(m.offer_id, "credit_risk")
    rows = ["uscc,segment"] + [f"91330100MA{c:07d},{'对公' if c % 4 == 0 else '小微'}"
                               for c in range(0, 152, 2)]
    file = tmp_path / "customers.csv"
    file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    page = browsing.page_for(m.consumer, lang="en")
    page.goto("/consumer/sandbox#mine")
    assert page.locator("#cons-sb-upload").is_visible()  # shown by the script
    page.get_by_label("Table name").fill("customers")
    page.locator("#cons-sb-upload-file").set_input_files(str(file))
    page.click("#cons-sb-upload-submit")
    page.wait_for_selector("#cons-sb-upload[data-result=ok]")
    status = page.locator("#cons-sb-upload-status").inner_text()
    assert "Stored as mine.customers (76 rows)" in status
    assert page.locator("#cons-sb-upload-progress").get_attribute("value") == "100"
    browsing.shot(page, "own-table-uploaded")
    page.click("#cons-sb-upload-status a")
    page.wait_for_selector("#cons-sb-mine")
    assert "mine.customers" in page.locator("#cons-sb-mine").inner_text()

    usage_under_dp(m)  # exact answers never join an own table
    page.locator("#cons-sb-sql").fill(
        f"SELECT c.segment, COUNT(*) AS n FROM mine.customers c JOIN {T} u "
        "ON c.uscc = u.uscc GROUP BY c.segment")
    page.click("#cons-sb-run")
    page.wait_for_selector("#cons-sb-result")
    with page.expect_download() as info:
        page.click("#cons-sb-csv")
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    text = Path(download.path()).read_bytes().decode("utf-8-sig")
    assert text.splitlines()[0] == "segment,n" and "对公" in text
    browsing.shot(page, "own-table-join")
    # On a phone the page (own tables, answer, reviews) does not scroll sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/consumer/sandbox#mine")
    wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter(e => e.getBoundingClientRect().right > 390)
        .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' +
             Math.round(e.getBoundingClientRect().right)).slice(0, 15)""")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390, wide
    browsing.shot(page, "own-tables-phone")
