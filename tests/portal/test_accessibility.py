"""Every page of every section, filled with a real trade, checked as a screen reader and a
strict network policy would: each form control has a label, each table header cells, each
button a name, one <h1>, <html lang>, and nothing loaded or posted to another origin."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from shugu.client import Client
from shugu.db import utcnow
from shugu.runtime import Exchange
from tests.conftest import LiveServer
from tests.portal.conftest import Signup, signed_in_web
from tests.portal.test_consumer_pages import SLUG, T, build
from tests.portal.test_operator_pages import operator_member

UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}


class Audit(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.label_depth = 0
        self.tables = 0
        self.headers = 0
        self.h1 = 0
        self.html_lang: str | None = None
        self.refs: list[str] = []
        self.buttons: list[str] = []
        self._button: list[str] | None = None
        self._button_label: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        for name in ("src", "href", "action"):
            if a.get(name):
                self.refs.append(str(a[name]))
        if tag == "html":
            self.html_lang = a.get("lang")
        elif tag == "label":
            self.label_depth += 1
            if a.get("for"):
                self.label_for.add(str(a["for"]))
        elif tag in ("input", "select", "textarea"):
            if tag != "input" or (a.get("type") or "text") not in UNLABELLED_TYPES:
                self.controls.append({**a, "_tag": tag,
                                      "_wrapped": "1" if self.label_depth else None})
        elif tag == "table":
            self.tables += 1
        elif tag == "th":
            self.headers += 1
        elif tag == "h1":
            self.h1 += 1
        elif tag == "button":
            self._button, self._button_label = [], a.get("aria-label")

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.label_depth -= 1
        elif tag == "button" and self._button is not None:
            self.buttons.append("".join(self._button).strip() or (self._button_label or ""))
            self._button = None

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button.append(data)

    def problems(self) -> list[str]:
        found = []
        for c in self.controls:
            named = c.get("aria-label") or c.get("aria-labelledby") or c.get("_wrapped") \
                or (c.get("id") and c["id"] in self.label_for)
            if not named:
                found.append(f"unlabelled <{c['_tag']} name={c.get('name')!r}>")
        if self.tables and self.headers == 0:
            found.append("a table without header cells")
        if self.h1 != 1:
            found.append(f"{self.h1} <h1> elements")
        if self.html_lang not in ("zh-CN", "en"):
            found.append(f"<html lang={self.html_lang!r}>")
        found += [f"button without a name #{i}" for i, b in enumerate(self.buttons) if not b]
        found += [f"reference to another origin: {r}" for r in self.refs
                  if re.match(r"(?i)(https?:)?//", r)]
        return found


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_is_labelled_and_self_contained(
        lang: str, signup: Signup, operator: Client, exchange: Exchange,
        server: LiveServer) -> None:
    m = build(signup, operator)
    auditor = signup(["auditor"], "浙江省数据局")
    agreement = m.consumer.api.request_offer(m.offer_id, "credit_risk")
    assert agreement.state == "FINALIZED"
    (concluded,) = m.consumer.api.list_agreements().items
    m.consumer.api.sandbox_query(f"SELECT region, COUNT(*) AS n FROM {T} GROUP BY region")
    operator.run_billing(utcnow())
    settlement = operator.settle()
    (invoice,) = m.consumer.api.invoices().items
    listing = m.provider.api.get_listing(SLUG)
    product = f"/provider/products/{SLUG}"
    pages = [
        (m.provider, ["/", f"/products/{SLUG}", "/provider", "/provider/products/new", product,
                     f"{product}/revisions", f"{product}/registrations", f"{product}/listing",
                     f"{product}/offers", f"{product}/rules", "/provider/usage"]),
        (m.consumer, ["/account", "/consumer", f"/consumer/offers/{m.offer_id}",
                      "/consumer/negotiations",
                     "/consumer/agreements", f"/consumer/agreements/{concluded.id}",
                     f"/consumer/sandbox?product={SLUG}", "/consumer/invoices",
                     f"/consumer/invoices/{invoice.number}"]),
        (operator_member(exchange, operator), [
            "/operator", "/operator/registrations", "/operator/objections",
            "/operator/listings", f"/operator/listings/{listing.id}", "/operator/billing",
            f"/operator/settlements/{settlement.number}"]),
        (auditor, ["/auditor", "/auditor/ledger", "/auditor/ledger/1", "/auditor/certificates",
                   "/auditor/vouchers"]),
    ]
    checked = 0
    for member, paths in pages:
        web = signed_in_web(server, member)
        try:
            for path in paths:
                sep = "&" if "?" in path else "?"
                response = web.get(f"{path}{sep}lang={lang}")
                assert response.status_code == 200, (path, response.status_code)
                audit = Audit()
                audit.feed(response.text)
                assert not audit.problems(), (path, audit.problems())
                checked += 1
        finally:
            web.close()
    assert checked == sum(len(p) for _, p in pages)
    login = Audit()
    login.feed(httpx.get(f"{server.url}/login", params={"lang": lang}, timeout=60).text)
    assert not login.problems(), login.problems()


def test_the_audit_finds_what_it_looks_for() -> None:
    audit = Audit()
    audit.feed('<html lang="fr"><h1>a</h1><h1>b</h1><input name="q"><select id="s"></select>'
               '<label for="ok">x</label><input id="ok"><label>y <textarea></textarea></label>'
               '<table><tr><td>1</td></tr></table><button> </button>'
               '<script src="https://cdn.example/x.js"></script></html>')
    assert audit.problems() == [
        "unlabelled <input name='q'>", "unlabelled <select name=None>",
        "a table without header cells", "2 <h1> elements", "<html lang='fr'>",
        "button without a name #0", "reference to another origin: https://cdn.example/x.js"]
