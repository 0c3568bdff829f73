"""A manual offer negotiated through the consumer pages: request with a counter-price,
the provider's counter-offer, accept, verify, the provider finalizes; every step listed;
terminating another negotiation with a reason; illegal messages are refused."""

from __future__ import annotations

from shugu.client import Client
from tests.conftest import LiveServer
from tests.portal.conftest import Signup, post_form, signed_in_web
from tests.portal.test_consumer_pages import build, page, refused


def test_manual_negotiation_through_every_consumer_message(
        signup: Signup, operator: Client, server: LiveServer) -> None:
    m = build(signup, operator, sandbox=False, approval="manual", price_fen=500_00)
    web = signed_in_web(server, m.consumer)
    other = signed_in_web(server, signup(["consumer"], "别家银行"))
    provider = m.provider.api
    try:
        offer = f"/consumer/offers/{m.offer_id}"
        html = page(web, offer + "?lang=zh")
        assert "提供方审批" in html and "500.00" in html
        refused(post_form(web, offer, f"{offer}/request", {"purpose": "marketing_analysis"}),
                400, "purpose_text_required")
        r = post_form(web, offer, f"{offer}/request",
                      {"purpose": "marketing_analysis", "price_yuan": "450",
                       "purpose_text": "小微企业营销"})
        assert r.status_code == 303 and "done=cons_requested" in r.headers["location"]
        [n] = m.consumer.api.list_negotiations().items
        assert n.state == "REQUESTED" and n.terms["price_fen"] == 450_00
        path = f"/consumer/negotiations/{n.id}"
        html = page(web, path)
        # Only terminate is the consumer's to send while the provider has the turn.
        assert 'id="cons-neg-terminate"' in html and 'id="cons-neg-accept"' not in html
        refused(post_form(web, path, f"{path}/accept", {}), 409, "illegal_transition")
        refused(post_form(web, path, f"{path}/agree", {}), 400, "invalid_message")
        page(other, path, 404)
        assert f"/consumer/negotiations/{n.id}\"" not in page(other, "/consumer/negotiations")

        provider.counter_offer(n.id, {"price_fen": 480_00}, note="最低价")
        html = page(web, path)
        for form in ("accept", "request", "terminate"):
            assert f'id="cons-neg-{form}"' in html
        assert "最低价" in html and "480.00" in html
        # A counter-request, answered by another counter-offer, then accepted.
        refused(post_form(web, path, f"{path}/request", {"price_yuan": ""}), 400,
                "invalid_form")
        r = post_form(web, path, f"{path}/request", {"price_yuan": "470", "note": "折中"})
        assert r.status_code == 303
        assert m.consumer.api.get_negotiation(n.id).terms["price_fen"] == 470_00
        provider.counter_offer(n.id, {"price_fen": 475_00})
        r = web.post(f"{path}/accept", data={})
        assert r.status_code == 403
        assert m.consumer.api.get_negotiation(n.id).state == "OFFERED"
        r = post_form(web, path, f"{path}/accept", {"note": "同意"})
        assert r.status_code == 303 and m.consumer.api.get_negotiation(n.id).state == "ACCEPTED"
        provider.agree_negotiation(n.id)
        assert 'id="cons-neg-verify"' in page(web, path)
        r = post_form(web, path, f"{path}/verify", {})
        assert r.status_code == 303 and m.consumer.api.get_negotiation(n.id).state == "VERIFIED"
        provider.finalize_negotiation(n.id)
        html = page(web, path + "?lang=en")
        assert 'id="cons-neg-agreement"' in html and "Nothing for you to do now." in html
        assert html.count("<tr><td>") == 8  # every step
        [a] = m.consumer.api.list_agreements().items
        assert a.price_fen == 475_00
        assert "475.00" in page(web, f"/consumer/agreements/{a.id}")

        # Another request, ended by the consumer with a reason (required).
        r = post_form(web, offer, f"{offer}/request",
                      {"purpose": "credit_risk", "purpose_text": "授信审批"})
        second = int(r.headers["location"].split("/")[-1].split("?")[0])
        path = f"/consumer/negotiations/{second}"
        refused(post_form(web, path, f"{path}/terminate", {"reason": ""}), 422, "invalid_request")
        r = post_form(web, path, f"{path}/terminate", {"reason": "预算不足"})
        assert r.status_code == 303
        ended = m.consumer.api.get_negotiation(second)
        assert ended.state == "TERMINATED" and ended.termination_reason == "预算不足"
        html = page(web, "/consumer/negotiations?state=TERMINATED")
        assert f'href="/consumer/negotiations/{second}"' in html
        assert f'href="/consumer/negotiations/{n.id}"' not in html
        refused(web.get("/consumer/negotiations?state=DONE"), 400, "invalid_state")
        r = post_form(other, "/consumer", f"{path}/terminate", {"reason": "x"})
        assert r.status_code == 404
    finally:
        web.close()
        other.close()
