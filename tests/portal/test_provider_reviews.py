"""Provider pages: consumers' sandbox queries sent for review — listed on the product's
"Query reviews" tab, approved or rejected through the page (sandbox.templates.decide),
checked with the SDK; CSRF, strangers and a second decision refused."""

from __future__ import annotations

from contextlib import closing

from shugu.client import Client
from shugu.portal.i18n import MESSAGES
from tests.conftest import LiveServer
from tests.portal.conftest import Signup, post_form, signed_in_web
from tests.portal.test_consumer_pages import SLUG, T, build, page, refused

ZH, EN = MESSAGES["zh"], MESSAGES["en"]
BASE = f"/provider/products/{SLUG}/reviews"


def test_reviews_approve_reject_csrf_strangers(signup: Signup, operator: Client,
                                               server: LiveServer) -> None:
    m = build(signup, operator)
    m.consumer.api.request_offer(m.offer_id, "credit_risk")
    rival = signup(["provider", "consumer"], "另一家数据公司")
    with closing(signed_in_web(server, m.provider)) as web, \
            closing(signed_in_web(server, rival)) as other:
        html = page(web, BASE)
        assert ZH["prov.reviews_none"] in html and ZH["prov.tab.reviews"] in html
        assert 'id="count-reviews">0<' in page(web, "/provider")

        sql = f"SELECT industry, AVG(kwh) FROM {T} GROUP BY industry"
        first = m.consumer.api.submit_review(SLUG, sql, note="按行业看用电 <b>")
        second = m.consumer.api.submit_review(SLUG, f"SELECT COUNT(*) FROM {T}")
        assert 'id="count-reviews">2<' in page(web, "/provider")
        html = page(web, f"{BASE}?lang=en")
        assert EN["prov.tab.reviews"] in html and "杭州银行" in html
        assert f'<pre id="review-sql-{first.id}">SELECT industry' in html
        assert "按行业看用电 &lt;b&gt;" in html
        assert f'id="review-approve-{second.id}"' in html

        # Another organisation sees nothing and decides nothing.
        assert other.get(BASE).status_code == 404
        r = post_form(other, "/provider", f"{BASE}/{first.id}/approve", {"note": "x"})
        assert r.status_code == 404
        # No CSRF token: 403, still pending.
        page(web, BASE)
        assert web.post(f"{BASE}/{first.id}/approve", data={"note": "x"}).status_code == 403
        assert {r.status for r in m.provider.api.reviews(role="provider")} == {"pending"}

        r = post_form(web, BASE, f"{BASE}/{first.id}/approve", {"note": "同意，仅此一次"})
        assert r.status_code == 303 and "prov_review_approve" in r.headers["location"]
        r = post_form(web, BASE, f"{BASE}/{second.id}/reject", {"note": "请用模板"})
        assert r.status_code == 303 and "prov_review_reject" in r.headers["location"]
        got = {r.id: r for r in m.consumer.api.reviews()}
        assert got[first.id].status == "approved"
        assert got[first.id].decision_note == "同意，仅此一次"
        assert got[second.id].status == "rejected" and got[second.id].decision_note == "请用模板"
        html = page(web, BASE)
        assert "同意，仅此一次" in html and 'id="review-approve-' not in html
        assert 'id="count-reviews">0<' in page(web, "/provider")

        # A decided review cannot be decided again; an unknown one is 404.
        refused(post_form(web, BASE, f"{BASE}/{second.id}/approve", {}), 409, "review_decided")
        assert m.consumer.api.reviews()[0].status == "rejected"
        assert post_form(web, BASE, f"{BASE}/999999/approve", {}).status_code == 404
        assert post_form(web, BASE, f"{BASE}/{first.id}/maybe", {}).status_code == 404
        # The approved query runs once for the consumer.
        assert len(m.consumer.api.run_review(first.id).rows) == 3
        used = f'id="review-status-{first.id}"><span class="badge">已运行<'
        assert used in page(web, f"{BASE}?lang=zh")
