"""The provider's certificates on the registrations tab: licence, transfer, change and
cancellation applications and pledges (质押), through a real server. Each form changes state
through the rights service (checked with the SDK), bad input shows the stable code, a
missing CSRF token changes nothing, another organisation gets 404, and a pledged
certificate refuses a transfer with `certificate_pledged` on the page. The operator's
lists show organisation names."""

from __future__ import annotations

from contextlib import closing

from shugu.client import Client
from shugu.portal.i18n import MESSAGES
from shugu.runtime import Exchange
from tests.conftest import LiveServer
from tests.portal.conftest import Signup, csrf_of, post_form, signed_in_web
from tests.portal.test_accessibility import Audit
from tests.portal.test_operator_pages import operator_member
from tests.rights.conftest import SLUG, draft, make_product, through

ZH, EN = MESSAGES["zh"], MESSAGES["en"]
BASE = f"/provider/products/{SLUG}"
PAGE = f"{BASE}/registrations"


def test_later_registrations_and_pledges(signup: Signup, server: LiveServer, operator: Client,
                                         exchange: Exchange) -> None:
    grid = signup(["provider"], "浙江电网公司")
    bank = signup(["consumer"], "杭州银行")
    rival = signup(["provider"], "另一家数据公司")
    make_product(grid.api)
    number = through(operator, grid.api, exchange, draft(grid.api))
    bank_org = bank.api.me().organization
    grid_org = grid.api.me().organization
    cert_path = f"{BASE}/certificates/{number}"
    with closing(signed_in_web(server, grid)) as web, \
            closing(signed_in_web(server, rival)) as other, \
            closing(signed_in_web(server, operator_member(exchange, operator))) as op:
        page = web.get(PAGE)
        assert page.status_code == 200 and number in page.text
        assert ZH["prov.cert.valid"] in page.text and ZH["prov.no_encumbrances"] in page.text
        for form in ("licence", "transfer", "change", "cancel", "pledge"):
            assert f'id="{form}-form-' in page.text
        en = web.get(PAGE, params={"lang": "en"})
        assert EN["prov.held"] in en.text and EN["prov.apply.pledge"] in en.text
        assert web.get(PAGE, params={"lang": "zh"}).status_code == 200  # back to Chinese

        # Licence to the bank, named by its 统一社会信用代码.
        before = len(grid.api.registrations().items)
        forged = web.post(f"{cert_path}/registrations", data={
            "kind": "licence", "counterparty": bank_org.uscc, "licence_scope": "x"})
        assert forged.status_code == 403
        assert len(grid.api.registrations().items) == before
        licence = post_form(web, PAGE, f"{cert_path}/registrations", {
            "kind": "licence", "counterparty": bank_org.uscc, "right_holding": "1",
            "licence_scope": "信贷风控建模", "licence_until": "2027-12-31"})
        assert licence.status_code == 303
        lic = grid.api.registrations().items[-1]
        assert (lic.kind, lic.counterparty_org_id, lic.certificate) == (
            "licence", bank_org.id, number)
        assert [r.code for r in lic.rights] == ["holding"] and lic.licence_until is not None
        assert lic.licence_until.isoformat().startswith("2027-12-31T15:59:59")
        shown = web.get(PAGE).text
        assert bank_org.name in shown and ZH["prov.regkind.licence"] in shown

        # Bad input: the stable codes, nothing created.
        for data, status, code in (
                ({"kind": "licence", "counterparty": bank_org.uscc}, 400, "missing_field"),
                ({"kind": "licence", "counterparty": "没有这家公司", "licence_scope": "x"},
                 400, "unknown_organization"),
                ({"kind": "transfer", "counterparty": grid_org.name}, 400,
                 "invalid_counterparty"),
                ({"kind": "licence", "counterparty": bank_org.uscc, "licence_scope": "x",
                  "licence_until": "2027-13-01"}, 400, "invalid_date"),
                ({"kind": "gift"}, 400, "invalid_kind"),
                ({"kind": "cancellation"}, 400, "missing_field")):
            bad = post_form(web, PAGE, f"{cert_path}/registrations", data)
            assert (bad.status_code, code in bad.text) == (status, True), (data, bad.text[:300])
        for data, code in (({"pledgee": bank_org.name, "amount": "12.345",
                             "term_end": "2027-06-30"}, "sub_fen_amount"),
                           ({"pledgee": bank_org.name, "amount": "-5",
                             "term_end": "2027-06-30"}, "invalid_amount"),
                           ({"pledgee": bank_org.name, "amount": "10"}, "missing_field"),
                           ({"pledgee": bank_org.name, "amount": "10", "term_start": "2027-07-01",
                             "term_end": "2027-06-30"}, "invalid_term")):
            bad = post_form(web, PAGE, f"{cert_path}/pledges", data)
            assert bad.status_code == 400 and code in bad.text, (data, bad.text[:300])
        assert len(grid.api.registrations().items) == before + 1
        assert grid.api.pledges() == []

        # Another organisation: 404 for the page and the forms, nothing changes.
        token = csrf_of(other.get("/provider").text)
        assert other.get(PAGE).status_code == 404
        assert other.post(f"{cert_path}/pledges", data={
            "csrf_token": token, "pledgee": bank_org.uscc, "amount": "1",
            "term_end": "2027-06-30"}).status_code == 404
        assert other.post(f"{cert_path}/registrations", data={
            "csrf_token": token, "kind": "cancellation", "reason": "x"}).status_code == 404
        assert web.post(f"{BASE}/certificates/SG-DIP-0000-999999/pledges", data={
            "csrf_token": csrf_of(web.get(PAGE).text), "pledgee": bank_org.uscc,
            "amount": "1", "term_end": "2027-06-30"}).status_code == 404
        assert grid.api.pledges() == []

        # Pledge to the bank by its exact name; the certificate shows it and refuses a
        # transfer with certificate_pledged on the page.
        assert post_form(web, PAGE, f"{cert_path}/pledges", {
            "pledgee": bank_org.name, "amount": "500000.5", "term_end": "2027-06-30",
            "note": "授信"}).status_code == 303
        [pledge] = grid.api.pledges()
        assert (pledge.pledgee_org_id, pledge.amount_fen, pledge.status) == (
            bank_org.id, 50_000_050, "active")
        shown = web.get(PAGE).text
        assert ZH["prov.cert.pledged"] in shown and "¥500,000.50" in shown
        assert f'id="pledge-{pledge.id}"' in shown
        refused = post_form(web, PAGE, f"{cert_path}/registrations",
                            {"kind": "transfer", "counterparty": bank_org.uscc})
        assert refused.status_code == 409 and "certificate_pledged" in refused.text
        for lang in ("en", "zh"):  # every new form labelled, in both languages (zh last)
            audit = Audit()
            audit.feed(web.get(PAGE, params={"lang": lang}).text)
            assert not audit.problems(), (lang, audit.problems())
        # The operator's pledge list names both parties; releasing needs the CSRF token;
        # the pledgor cannot open it.
        listed = op.get("/operator/pledges")
        assert listed.status_code == 200 and f'id="pledge-{pledge.id}"' in listed.text
        assert grid_org.name in listed.text and bank_org.name in listed.text
        audit = Audit()
        audit.feed(listed.text)
        assert not audit.problems(), audit.problems()
        assert web.get("/operator/pledges").status_code == 404
        assert op.post(f"/operator/pledges/{pledge.id}/release",
                       data={"note": "x"}).status_code == 403
        assert grid.api.pledge(pledge.id).status == "active"
        assert post_form(op, "/operator/pledges", f"/operator/pledges/{pledge.id}/release",
                         {"note": "已还款"}).status_code == 303
        assert grid.api.pledge(pledge.id).status == "released"
        assert "已还款" in op.get("/operator/pledges", params={"status": ""}).text
        assert op.get("/operator/pledges", params={"status": "x"}).status_code == 400
        assert ZH["prov.cert.valid"] in web.get(PAGE).text

        # Transfer (by id), then change and cancellation: one open at a time.
        assert post_form(web, PAGE, f"{cert_path}/registrations", {
            "kind": "transfer", "counterparty": f"#{bank_org.id}"}).status_code == 303
        transfer = grid.api.registrations().items[-1]
        assert (transfer.kind, transfer.counterparty_org_id) == ("transfer", bank_org.id)
        pending = post_form(web, PAGE, f"{cert_path}/registrations",
                            {"kind": "cancellation", "reason": "停止运营"})
        assert pending.status_code == 409 and "registration_pending" in pending.text
        grid.api.withdraw_registration(transfer.id)
        assert post_form(web, PAGE, f"{cert_path}/registrations", {
            "kind": "change", "revision": "1", "right_holding": "1",
            "reason": "只保留持有权"}).status_code == 303
        change = grid.api.registrations().items[-1]
        assert (change.kind, change.revision, change.reason) == ("change", 1, "只保留持有权")
        grid.api.withdraw_registration(change.id)
        assert post_form(web, PAGE, f"{cert_path}/registrations", {
            "kind": "cancellation", "reason": "停止运营"}).status_code == 303
        cancel = grid.api.registrations().items[-1]
        assert (cancel.kind, cancel.reason, cancel.status) == ("cancellation", "停止运营",
                                                               "draft")
        # Submitted from the list like any draft; the operator then sees names.
        assert post_form(web, PAGE, f"{PAGE}/{cancel.id}/submit", {}).status_code == 303
        assert grid.api.registration(cancel.id).status == "formal_review"

        queue = op.get("/operator/registrations").text
        assert grid_org.name in queue and f"#{grid_org.id}" in queue
        assert op.get(f"/operator/registrations/{lic.id}").status_code == 404  # a draft
        grid.api.submit_registration(lic.id)
        detail = op.get(f"/operator/registrations/{lic.id}").text
        assert grid_org.name in detail and bank_org.name in detail
