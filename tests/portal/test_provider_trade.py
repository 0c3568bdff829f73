"""Provider pages: offers with the policy form, negotiations waiting on the provider, and
analysis rules — through a real server, checked with the SDK afterwards."""

from __future__ import annotations

import json
from contextlib import closing

from shugu.client import Client
from shugu.portal.i18n import MESSAGES
from tests.conftest import LiveServer, list_product
from tests.portal.conftest import Signup, csrf_of, post_form, signed_in_web
from tests.portal.test_provider_pages import make_product

ZH, EN = MESSAGES["zh"], MESSAGES["en"]
BASE = "/provider/products/power-use"
OFFER = {"title": "按次查询", "plan": "per_query", "price": "0.50", "approval": "instant",
         "visibility": "public", "mode_share": "1", "mode_sandbox": "1",
         "purpose_credit_risk": "1", "valid_for": "P1Y", "quota_queries": "100",
         "epsilon": "1.5", "delete_after": "1", "prohibit_distribute": "1"}


def test_offers_and_negotiations(signup: Signup, server: LiveServer, operator: Client) -> None:
    grid = signup(["provider"], "浙江电网公司")
    bank = signup(["consumer"], "杭州银行")
    rival = signup(["provider", "consumer"], "另一家数据公司")
    make_product(grid)
    list_product(grid.api, operator, "power-use", table="usage")
    with closing(signed_in_web(server, grid)) as web, \
            closing(signed_in_web(server, rival)) as other:
        page = web.get(f"{BASE}/offers")
        assert page.status_code == 200 and ZH["offers.none"] in page.text
        assert 'id="mode-sandbox"' in page.text and 'id="epsilon"' in page.text
        assert EN["prov.new_offer"] in web.get(f"{BASE}/offers", params={"lang": "en"}).text

        web.get(f"{BASE}/offers")
        assert web.post(f"{BASE}/offers", data=OFFER).status_code == 403
        assert grid.api.list_offers("power-use") == []
        made = post_form(web, f"{BASE}/offers", f"{BASE}/offers", OFFER)
        assert made.status_code == 303 and "prov_offer" in made.headers["location"]
        (offer,) = grid.api.list_offers("power-use")
        assert offer.price_fen == 50 and offer.approval == "instant"
        constraints = offer.policy["permission"][0]["constraint"]
        assert {"leftOperand": "deliveryMode", "operator": "isAnyOf",
                "rightOperand": ["share", "sandbox"]} in constraints
        assert {"leftOperand": "epsilon", "operator": "lteq", "rightOperand": 1.5} \
            in constraints
        assert {"leftOperand": "count", "operator": "lteq", "rightOperand": 100,
                "unit": "queries"} in constraints
        assert offer.policy["permission"][0]["duty"][0]["action"] == "delete"
        assert offer.policy["prohibition"] == [{"action": "distribute"}]

        # Refusals carry the domain's stable codes; nothing is created.
        for change, status, code in (
                ({"price": "12.345"}, 400, "sub_fen_amount"),
                ({"price": "12,50"}, 400, "invalid_amount"),
                ({"mode_share": "", "mode_sandbox": ""}, 400, "invalid_policy"),
                ({"epsilon": "500"}, 400, "invalid_policy"),
                ({"quota_queries": "ten"}, 400, "invalid_quota"),
                ({"plan": "subscription"}, 400, "period_required"),
                ({"plan": "monthly"}, 422, "invalid_request"),
                ({"policy_json": "{not json"}, 400, "invalid_json"),
                ({"visibility": "private"}, 400, "invalid_private_org")):
            bad = post_form(web, f"{BASE}/offers", f"{BASE}/offers", {**OFFER, **change})
            assert bad.status_code == status and code in bad.text, (change, bad.text[-800:])
        assert len(grid.api.list_offers("power-use")) == 1

        # Pasted policy JSON; a manual, private offer to the bank.
        raw = {"permission": [{"action": "use", "constraint": [
            {"leftOperand": "deliveryMode", "operator": "eq", "rightOperand": "share"}]}]}
        manual = post_form(web, f"{BASE}/offers", f"{BASE}/offers", {
            "title": "定向订阅", "plan": "subscription", "period": "month", "price": "1200",
            "approval": "manual", "visibility": "private",
            "private_org_id": str(bank.api.org_id),  # type: ignore[attr-defined]
            "policy_json": json.dumps(raw)})
        assert manual.status_code == 303
        private = grid.api.list_offers("power-use")[1]
        assert private.price_fen == 120000 and private.visibility == "private"
        assert private.policy["permission"][0]["constraint"][0]["rightOperand"] == "share"

        # The bank asks for the manual offer; the provider agrees and finalizes here.
        n = bank.api.request_offer(private.id, "credit_risk", purpose_text="贷前审查")
        page = web.get(f"{BASE}/offers")
        assert f'id="agree-{n.id}"' in page.text and "贷前审查" in page.text
        assert other.get(f"{BASE}/offers").status_code == 404
        other_token = csrf_of(other.get("/provider").text)
        assert other.post(f"{BASE}/negotiations/{n.id}/agree",
                          data={"csrf_token": other_token}).status_code == 404
        finalize_early = post_form(web, f"{BASE}/offers",
                                   f"{BASE}/negotiations/{n.id}/finalize", {})
        assert finalize_early.status_code == 409 and "illegal_transition" in finalize_early.text
        home = web.get("/provider", params={"lang": "zh"}).text
        assert ZH["prov.waiting_on_you"] in home
        assert f"/offers#negotiation-{n.id}" in home
        agreed = post_form(web, f"{BASE}/offers", f"{BASE}/negotiations/{n.id}/agree", {})
        assert agreed.status_code == 303
        assert bank.api.get_negotiation(n.id).state == "AGREED"
        bank.api.verify_negotiation(n.id)
        assert f'id="finalize-{n.id}"' in web.get(f"{BASE}/offers").text
        done = post_form(web, f"{BASE}/offers", f"{BASE}/negotiations/{n.id}/finalize", {})
        assert done.status_code == 303
        assert bank.api.get_negotiation(n.id).state == "FINALIZED"
        assert len(bank.api.list_agreements().items) == 1

        n2 = bank.api.request_offer(private.id, "credit_risk", purpose_text="再次申请")
        no_reason = post_form(web, f"{BASE}/offers", f"{BASE}/negotiations/{n2.id}/terminate",
                              {})
        assert no_reason.status_code == 400 and "reason_required" in no_reason.text
        ended = post_form(web, f"{BASE}/offers", f"{BASE}/negotiations/{n2.id}/terminate",
                          {"note": "重复申请"})
        assert ended.status_code == 303
        assert bank.api.get_negotiation(n2.id).state == "TERMINATED"

        # Withdraw: not by another organisation; then by the provider.
        assert other.post(f"{BASE}/offers/{offer.id}/withdraw",
                          data={"csrf_token": other_token}).status_code == 404
        gone = post_form(web, f"{BASE}/offers", f"{BASE}/offers/{offer.id}/withdraw", {})
        assert gone.status_code == 303
        assert grid.api.get_offer(offer.id).status == "withdrawn"
        twice = post_form(web, f"{BASE}/offers", f"{BASE}/offers/{offer.id}/withdraw", {})
        assert twice.status_code == 409 and "offer_withdrawn" in twice.text


def test_analysis_rules(signup: Signup, server: LiveServer) -> None:
    grid = signup(["provider"], "浙江电网公司")
    rival = signup(["provider"], "另一家数据公司")
    make_product(grid)
    grid.api.create_table("power-use", "empty")
    with closing(signed_in_web(server, grid)) as web, \
            closing(signed_in_web(server, rival)) as other:
        page = web.get(f"{BASE}/rules")
        assert page.status_code == 200 and ZH["prov.rules_none"] in page.text
        assert ZH["prov.rules_need_data"] in page.text  # the empty table
        draft = page.text.split('id="rules-json-usage"')[1].split(">", 1)[1] \
            .split("</textarea>")[0]
        template = json.loads(draft.replace("&#34;", '"').replace("&quot;", '"'))
        assert template["mode"] == "aggregate" and template["min_identities"] == 10
        # The form says what each kind guarantees, the chosen one marked.
        chosen = page.text.split('id="rules-guarantee-usage-chosen"')[1].split("</dt>")[0]
        assert "<code>aggregate</code>" in chosen and ZH["prov.guarantee.chosen"] in chosen
        assert ZH["prov.guarantee.dp"] in page.text
        assert template["columns"] == {
            "uscc": {"role": "identity"}, "region": {"role": "dimension"},
            "kwh": {"role": "aggregatable", "functions": ["COUNT", "SUM", "AVG"]}}

        action = f"{BASE}/tables/usage/rules"
        web.get(f"{BASE}/rules")
        assert web.post(action, data={"rules": json.dumps(template)}).status_code == 403
        saved = post_form(web, f"{BASE}/rules", action,
                          {"rules": json.dumps({**template, "min_identities": 5})})
        assert saved.status_code == 303 and "prov_rules" in saved.headers["location"]
        current = grid.api.analysis_rules("power-use", "usage")
        assert current.version == 1 and current.rules.min_identities == 5
        shown = web.get(f"{BASE}/rules")
        assert ZH["prov.rules_current"].format(version=1) in shown.text
        assert '"min_identities": 5' in shown.text.replace("&#34;", '"')

        two_ids = {**template, "columns": {**template["columns"],
                                           "region": {"role": "identity"}}}
        for body, status, code in (
                (json.dumps(two_ids), 422, "invalid_request"),
                ("{oops", 400, "invalid_json"),
                ("[]", 400, "invalid_json"),
                (json.dumps({**template, "columns": {"nope": {"role": "identity"}}}), 422,
                 "unknown_column")):
            bad = post_form(web, f"{BASE}/rules", action, {"rules": body})
            assert bad.status_code == status and code in bad.text, (body, bad.text[-600:])
        empty = post_form(web, f"{BASE}/rules", f"{BASE}/tables/empty/rules",
                          {"rules": json.dumps(template)})
        assert empty.status_code == 422 and "table_empty" in empty.text
        assert grid.api.analysis_rules("power-use", "usage").version == 1
        assert EN["prov.rules_save"] in web.get(f"{BASE}/rules", params={"lang": "en"}).text

        assert other.get(f"{BASE}/rules").status_code == 404
        other_token = csrf_of(other.get("/provider").text)
        assert other.post(action, data={"csrf_token": other_token,
                                        "rules": json.dumps(template)}).status_code == 404
        assert grid.api.analysis_rules("power-use", "usage").version == 1
        assert EN["prov.rules_save"] in web.get(f"{BASE}/rules", params={"lang": "en"}).text
