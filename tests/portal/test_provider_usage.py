"""Who uses what, usage and revenue per month: the provider's usage page, the read functions
added to metering and billing, and the provider pages' pure form helpers."""

from __future__ import annotations

from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest

from shugu.billing import periods
from shugu.billing import service as billing
from shugu.client import Client
from shugu.contracts import policy
from shugu.errors import InvalidInput, Unprocessable
from shugu.identity import service as identity
from shugu.metering import service as metering
from shugu.portal import provider_forms as forms
from shugu.portal.i18n import MESSAGES
from shugu.portal.pages import yuan
from shugu.runtime import Exchange
from shugu.sandbox.schemas import RulesIn
from tests.conftest import LiveServer, list_product
from tests.portal.conftest import Signup, signed_in_web
from tests.portal.test_provider_pages import make_product
from tests.portal.test_provider_trade import OFFER

ZH = MESSAGES["zh"]


def test_usage_and_revenue_per_month(signup: Signup, server: LiveServer, operator: Client,
                                     exchange: Exchange) -> None:
    grid = signup(["provider"], "浙江电网公司")
    bank = signup(["consumer"], "杭州银行")
    rival = signup(["provider"], "另一家数据公司")
    make_product(grid)
    list_product(grid.api, operator, "power-use", table="usage")
    grid.api.set_analysis_rules("power-use", "usage", forms.rules_template(
        [c.model_dump() for c in grid.api.get_product("power-use").tables[0].columns]))
    with closing(signed_in_web(server, grid)) as web, \
            closing(signed_in_web(server, rival)) as other:
        empty = web.get("/provider/usage")
        assert empty.status_code == 200 and ZH["prov.no_agreements"] in empty.text
        assert ZH["prov.no_usage"] in empty.text

        offer = grid.api.create_offer("power-use", "按次查询", plan="per_query", price_fen=50,
                                      policy=forms.policy_from_form(OFFER))
        n = bank.api.request_offer(offer.id, "credit_risk")
        assert n.state == "FINALIZED"
        for _ in range(3):
            bank.api.sandbox_query('SELECT region, SUM(kwh) AS kwh '
                                   'FROM "power-use".usage GROUP BY region')
        operator.run_billing(until=datetime.now(UTC))
        operator.settle()

        page = web.get("/provider/usage")
        assert page.status_code == 200
        agreement = bank.api.list_agreements().items[0]
        for text in (agreement.number, "杭州银行", ZH["prov.kind.sandbox.query"],
                     'id="usage-chart-1"', 'id="revenue-chart-invoiced_fen"',
                     'id="revenue-table"', "1.50", "1.35", "3 / 100"):
            assert text in page.text, text
        month = periods.month_label(datetime.now(UTC))
        row = page.text.split(f'<th scope="row">{month}</th>')[-1].split("</tr>")[0]
        assert "1.50" in row and "1.35" in row  # invoiced 3 × 0.50; 90 % settled
        assert "Usage per month" in web.get("/provider/usage", params={"lang": "en"}).text
        home = web.get("/provider", params={"lang": "zh"})
        assert 'id="count-agreements">1<' in home.text and "1.35" in home.text

        # Another provider sees none of it.
        theirs = other.get("/provider/usage")
        assert theirs.status_code == 200 and agreement.number not in theirs.text
        assert "杭州银行" not in theirs.text and ZH["prov.no_usage"] in theirs.text

    # The read functions themselves, for each side.
    months = periods.recent_months(datetime.now(UTC), 2)
    with exchange.read() as s:
        who = identity.authenticate(s, grid.api.token)
        used = metering.monthly_totals(s, who, "provider", months)
        assert used[month]["sandbox.query"] == 3 and used[months[0][0]] == {}
        assert billing.provider_monthly_revenue(s, who, months)[month] == {
            "invoiced_fen": 150, "settled_fen": 135}
        them = identity.authenticate(s, rival.api.token)
        assert metering.monthly_totals(s, them, "provider", months)[month] == {}
        assert billing.provider_monthly_revenue(s, them, months)[month] == {
            "invoiced_fen": 0, "settled_fen": 0}
        buyer = identity.authenticate(s, bank.api.token)
        assert metering.monthly_totals(s, buyer, "consumer", months)[month][
            "sandbox.query"] == 3


def test_recent_months_are_cst_calendar_months() -> None:
    # 2026-03-31 20:00 UTC is already 1 April in Beijing.
    months = periods.recent_months(datetime(2026, 3, 31, 20, tzinfo=UTC), 3)
    assert [m[0] for m in months] == ["2026-02", "2026-03", "2026-04"]
    _, start, end = months[-1]
    assert start.astimezone(UTC) == datetime(2026, 3, 31, 16, tzinfo=UTC)
    assert end - start == timedelta(days=30)
    january = periods.recent_months(datetime(2026, 1, 15, tzinfo=UTC), 2)
    assert [m[0] for m in january] == ["2025-12", "2026-01"]


def test_policy_form_builds_a_valid_odrl_policy() -> None:
    built = forms.policy_from_form(OFFER)
    _, rules = policy.parse(built)
    assert rules.modes and rules.modes[0] == ["share", "sandbox"]
    assert rules.epsilon and rules.epsilon[0] == 1.5
    assert rules.quotas["queries"][0] == 100 and rules.duration
    assert rules.purposes and rules.purposes[1] == ["credit_risk"]
    assert forms.policy_from_form({**OFFER, "epsilon": "2"})["permission"][0][
        "constraint"][-1]["rightOperand"] == 2
    with pytest.raises(InvalidInput) as bad:
        forms.policy_from_form({**OFFER, "epsilon": "lots"})
    assert bad.value.code == "invalid_policy"
    offer = forms.offer_in({**OFFER, "price": "12.5"})
    assert offer.price_fen == 1250 and offer.private_org_id is None
    with pytest.raises(InvalidInput) as sub_fen:
        forms.offer_in({**OFFER, "price": "0.001"})
    assert sub_fen.value.code == "sub_fen_amount"


def test_rules_template_and_chart() -> None:
    columns = [{"name": "region", "type": "string"}, {"name": "customer_id", "type": "long"},
               {"name": "amount", "type": "decimal(10,2)"}, {"name": "day", "type": "date"},
               {"name": "month", "type": "long"}]
    template = forms.rules_template(columns)
    assert template["columns"]["customer_id"] == {"role": "identity"}
    assert template["columns"]["amount"]["role"] == "aggregatable"
    assert template["columns"]["day"] == template["columns"]["month"] == {"role": "dimension"}
    assert forms.rules_template([{"name": "a", "type": "long"}])["columns"] == {
        "a": {"role": "identity"}}
    with pytest.raises(Unprocessable):
        forms.validated(RulesIn, {"columns": {}})
    chart = forms.bar_chart([("01", 0), ("02", 5), ("03", 10)])
    heights = [b["h"] for b in chart["bars"]]
    assert heights[0] == 0 and abs(heights[2] - 2 * heights[1]) <= 1 and chart["max"] == 10
    # Wide amounts (grouped yuan) stand upright above their bars: the top margin fits the
    # longest, so no label runs off the chart.
    money = forms.bar_chart([("01", 123_456_789_00), ("02", 5)], text=yuan)
    tallest = money["bars"][0]
    assert tallest["text"] == "123,456,789.00"
    assert tallest["y"] - 4 - 6.5 * len(tallest["text"]) >= 0
    assert all(b["y"] + b["h"] == chart["base"] for b in chart["bars"])
    assert forms.bar_chart([])["bars"] == []
