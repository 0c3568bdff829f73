"""Provider pages: a counter-offer with a new price in yuan on a negotiation waiting on the
provider (contracts.negotiation.counter, the API's POST /negotiations/{id}/offer)."""

from __future__ import annotations

from contextlib import closing

from shugu.client import Client
from tests.conftest import LiveServer
from tests.portal.conftest import Signup, post_form, signed_in_web
from tests.portal.test_consumer_pages import SLUG, build, page, refused

OFFERS = f"/provider/products/{SLUG}/offers"


def test_counter_offer_through_the_page(signup: Signup, operator: Client,
                                        server: LiveServer) -> None:
    m = build(signup, operator, sandbox=False, approval="manual")
    n = m.consumer.api.request_offer(m.offer_id, "credit_risk", purpose_text="贷前审查")
    rival = signup(["provider", "consumer"], "另一家数据公司")
    action = f"/provider/products/{SLUG}/negotiations/{n.id}/offer"
    with closing(signed_in_web(server, m.provider)) as web, \
            closing(signed_in_web(server, rival)) as other:
        html = page(web, f"{OFFERS}?lang=en")
        assert f'id="counter-form-{n.id}"' in html and 'value="100.00"' in html
        assert '<label for="counter-price-' in html and "Counter-offer" in html
        assert "还价" in page(web, f"{OFFERS}?lang=zh")

        # No CSRF token, another organisation, a bad price: nothing changes.
        assert web.post(action, data={"price": "80"}).status_code == 403
        assert post_form(other, "/provider", action, {"price": "80"}).status_code == 404
        refused(post_form(web, OFFERS, action, {"price": "80.505"}), 400, "sub_fen_amount")
        refused(post_form(web, OFFERS, action, {"price": ""}), 400, "invalid_amount")
        assert m.consumer.api.get_negotiation(n.id).state == "REQUESTED"

        r = post_form(web, OFFERS, action, {"price": "80.50", "note": "首年优惠"})
        assert r.status_code == 303 and "prov_negotiation_offer" in r.headers["location"]
        got = m.consumer.api.get_negotiation(n.id)
        assert got.state == "OFFERED" and got.terms["price_fen"] == 8050
        assert got.terms["plan"] == "one_time"  # the rest of the proposal stays
        html = page(web, OFFERS)
        assert f'id="counter-form-{n.id}"' not in html and "¥80.50" in html
        # Waiting on the consumer now: a second counter-offer is an illegal move.
        refused(post_form(web, OFFERS, action, {"price": "70"}), 409, "illegal_transition")
        assert m.consumer.api.get_negotiation(n.id).terms["price_fen"] == 8050
