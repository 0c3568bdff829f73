"""The portal in Debian's chromium (Playwright): sign-in, the frame, the language switch,
a phone-sized viewport."""

from __future__ import annotations

from tests.portal.conftest import Browsing, Signup


def test_sign_in_and_switch_language_in_a_browser(browsing: Browsing, signup: Signup) -> None:
    member = signup(["provider", "consumer"], "浙江数据公司")
    page = browsing.page_for(member)
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert page.get_by_role("link", name="数据目录").is_visible()
    assert page.get_by_role("link", name="数据提供方").is_visible()
    assert page.get_by_role("link", name="数据使用方").is_visible()
    assert page.get_by_role("link", name="平台运营").count() == 0
    browsing.shot(page, "catalog-zh")
    page.get_by_role("link", name="English").click()
    page.wait_for_url("**/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.get_by_role("link", name="Provider").is_visible()
    browsing.shot(page, "catalog-en")

    phone = browsing.page_for(member, mobile=True)
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    browsing.shot(phone, "catalog-phone")
