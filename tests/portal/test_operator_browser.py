"""The operator's main flow in Debian's chromium: approve a listing with a revenue split,
run billing and settle, with screenshots."""

from __future__ import annotations

import time

from shugu.client import Client
from shugu.runtime import Exchange
from tests.portal.conftest import Browsing, Signup
from tests.portal.test_operator_pages import (
    POLICY,
    now_cst,
    operator_member,
    product_in_review,
)


def test_operator_approves_a_listing_then_bills_and_settles(
        browsing: Browsing, exchange: Exchange, operator: Client, signup: Signup) -> None:
    provider = signup(["provider"], "联系人数据公司")
    consumer = signup(["consumer"], "银行")
    listing_id = product_in_review(provider, "contacts-web")
    page = browsing.page_for(operator_member(exchange, operator))
    page.get_by_role("link", name="平台运营").click()
    page.wait_for_url("**/operator")
    browsing.shot(page, "dashboard")
    page.get_by_role("navigation", name="平台运营").get_by_role("link", name="上架审核").click()
    page.get_by_role("link", name="contacts-web").first.click()
    page.wait_for_url(f"**/operator/listings/{listing_id}")
    assert page.get_by_text("138****5678").is_visible()
    page.get_by_label("提供方分成（基点）").fill("8800")
    page.get_by_label("平台分成（基点）").fill("1200")
    page.get_by_role("button", name="批准上架").click()
    page.wait_for_url(lambda url: "done=op_listing_approved" in url)
    assert page.get_by_role("status").first.inner_text() == "已批准上架。"
    assert provider.api.get_product("contacts-web").status == "listed"
    assert "8,800" in page.locator("dl.sheet").inner_text()  # digit grouping
    browsing.shot(page, "listing-approved")

    # A trade on the now listed product, then billing and settlement from the portal.
    offer = provider.api.create_offer("contacts-web", "one_time", plan="one_time",
                                      price_fen=200_000, policy=POLICY)
    assert consumer.api.request_offer(offer.id, "marketing_analysis").state == "FINALIZED"
    time.sleep(1.1)  # the cut-off is to the second
    page.goto("/operator/billing")
    page.locator("form[action='/operator/billing/run'] input[name=until]").fill(now_cst())
    page.get_by_role("button", name="生成账单").click()
    page.wait_for_url(lambda url: "done=op_billing_run" in url)
    assert "本次生成 1 张账单" in page.locator("main").inner_text()
    # (A full-page screenshot right before a click makes chromium miss it: shots come after.)
    page.get_by_role("button", name="发起结算").click()
    page.wait_for_url("**/operator/settlements/**")
    statement = page.locator("#statement").inner_text()
    # 2,000.00 paid by the bank; 88% to the provider, 12% to the platform.
    assert "2,000.00" in statement and "1,760.00" in statement and "240.00" in statement
    browsing.shot(page, "settlement")

    phone = browsing.page_for(operator_member(exchange, operator), mobile=True)
    phone.goto(page.url)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the settlement page scrolls sideways on a phone ({width}px)"
    browsing.shot(phone, "settlement-phone")
