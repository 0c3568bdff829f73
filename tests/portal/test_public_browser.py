"""Public pages and the sandbox in Debian's chromium at 390 px (a phone) and 1280 px: no
sideways scroll, whatever the product's title; the public pages without signing in."""

from __future__ import annotations

from shugu.client import Client
from tests.portal.conftest import Browsing, Signup
from tests.portal.test_consumer_pages import SLUG, build

LONG_TITLE = "浙江省企业月度用电量（按区县、行业门类、企业规模、电压等级统计，含同比环比）"


def no_sideways_scroll(page: object, path: str, width: int) -> None:
    page.goto(path)  # type: ignore[attr-defined]
    scroll = page.evaluate("document.documentElement.scrollWidth")  # type: ignore[attr-defined]
    assert scroll <= width, f"{path} scrolls sideways at {width}px ({scroll}px)"


def test_phone_and_desktop_without_sideways_scroll(browsing: Browsing, signup: Signup,
                                                   operator: Client) -> None:
    m = build(signup, operator)
    m.provider.api.update_product(SLUG, title_zh=LONG_TITLE,
                                  title_en="Monthly electricity use of enterprises in "
                                           "Zhejiang by district, industry and size")
    assert m.consumer.api.request_offer(m.offer_id, "credit_risk").state == "FINALIZED"
    for mobile, width in ((True, 390), (False, 1280)):
        visitor = browsing.page_for(None, mobile=mobile)
        for path in ("/", f"/products/{SLUG}", "/notices"):
            no_sideways_scroll(visitor, path, width)
        browsing.shot(visitor, f"public-product-{width}")
        bank = browsing.page_for(m.consumer, mobile=mobile)
        no_sideways_scroll(bank, "/consumer/sandbox", width)
        assert bank.locator("#cons-sb-product").is_visible()  # type: ignore[attr-defined]
        browsing.shot(bank, f"sandbox-{width}")
    # The anonymous visitor sees the catalogue and a sign-in link, not a sign-in wall.
    visitor = browsing.page_for(None)
    visitor.goto("/")  # type: ignore[attr-defined]
    assert visitor.get_by_role("link", name="登录").is_visible()  # type: ignore[attr-defined]
    visitor.get_by_role("link", name=LONG_TITLE).click()  # type: ignore[attr-defined]
    visitor.wait_for_url(f"**/products/{SLUG}")  # type: ignore[attr-defined]
