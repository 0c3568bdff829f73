"""The public product page: sample rows where allowed, certificate status, offer links."""

from __future__ import annotations

from shugu.client import Client
from shugu.runtime import Exchange
from tests.conftest import LiveServer, list_product
from tests.portal.conftest import Signup, signed_in_web
from tests.rights.conftest import draft, make_product, through


def test_product_page_shows_sample_certificate_and_offer_links(
        signup: Signup, operator: Client, exchange: Exchange, server: LiveServer) -> None:
    grid = signup(["provider"], "浙江电网")
    bank = signup(["consumer"], "杭州银行")
    slug = make_product(grid.api)
    number = through(operator, grid.api, exchange, draft(grid.api, slug))
    grid.api.update_product(slug, sample_rows=2)
    list_product(grid.api, operator, slug, data=None)
    offer = grid.api.create_offer(slug, "年度订阅", plan="one_time", price_fen=100_00,
                                  policy={"permission": [{"action": "use", "constraint": [
                                      {"leftOperand": "deliveryMode", "operator": "isAnyOf",
                                       "rightOperand": ["share"]}]}]})
    web = signed_in_web(server, bank)
    try:
        page = web.get(f"/products/{slug}")
        assert page.status_code == 200
        html = page.text
        assert "样例数据" in html and "西湖区" in html and "2024-01" in html
        assert number in html and "有效" in html and "数据资源持有权" in html
        assert "状态: 已挂牌" in html and "一次性" in html
        assert f'href="/consumer/offers/{offer.id}"' in html
        english = web.get(f"/products/{slug}", params={"lang": "en"}).text
        assert "Sample rows" in english and "valid" in english
        grid.api.update_product(slug, sample_rows=0)
        assert "提供方未提供样例数据" in web.get(f"/products/{slug}", params={"lang": "zh"}).text
    finally:
        web.close()
    # The provider sees no link to take its own offer.
    own = signed_in_web(server, grid)
    try:
        assert "/consumer/offers/" not in own.get(f"/products/{slug}").text
    finally:
        own.close()
