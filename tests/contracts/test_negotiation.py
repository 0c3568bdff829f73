"""The Dataspace Protocol state machine over the API: every legal transition, a table of
illegal ones, counter-offers from both sides, instant and manual offers, the ledger."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from shugu.client import Client
from shugu.contracts.models import Agreement
from shugu.entitlements.models import Entitlement
from shugu.ledger.models import LedgerEvent
from shugu.runtime import Exchange
from tests.conftest import Orgs
from tests.contracts.conftest import api_error, make_policy, offer, purpose, quota

WHY = "用于小微企业授信审批中的用电稳定性评估"


def trail(n: object) -> list[tuple[str, str | None, str, str]]:
    return [(s.message, s.from_state, s.to_state, s.side) for s in n.steps]  # type: ignore[attr-defined]


def ledger_actions(exchange: Exchange, subject: str) -> list[str]:
    with exchange.read() as s:
        return list(s.scalars(select(LedgerEvent.action).where(
            LedgerEvent.subject == subject).order_by(LedgerEvent.seq)))


def test_instant_offer_goes_straight_to_an_agreement(provider: Client, consumer: Client,
                                                     product: str, exchange: Exchange) -> None:
    oid = offer(provider, purpose("credit_risk"), quota(10))
    n = consumer.request_offer(oid, "credit_risk", purpose_text=WHY)
    assert n.state == "FINALIZED" and n.agreement_id is not None
    assert trail(n) == [("request", None, "REQUESTED", "consumer"),
                        ("agree", "REQUESTED", "AGREED", "system"),
                        ("verify", "AGREED", "VERIFIED", "consumer"),
                        ("finalize", "VERIFIED", "FINALIZED", "system")]
    assert ledger_actions(exchange, f"negotiation:{n.id}") == [
        "negotiation.requested", "negotiation.agreed", "negotiation.verified",
        "negotiation.finalized"]
    a = consumer.get_agreement(n.agreement_id)
    e = consumer.get_entitlement(a.entitlement_id)  # type: ignore[arg-type]
    assert (e.source, e.agreement_id, e.quotas.queries, e.modes) == (
        "agreement", a.id, 10, ["share"])
    # The provider sees the same negotiation from its side.
    assert [x.id for x in provider.list_negotiations(role="provider").items] == [n.id]
    assert consumer.list_negotiations().items[0].state == "FINALIZED"


def test_manual_offer_waits_for_the_provider(provider: Client, consumer: Client,
                                             product: str, exchange: Exchange) -> None:
    oid = offer(provider, approval="manual")
    e = api_error(lambda: consumer.request_offer(oid, "credit_risk"))
    assert (e.status, e.code) == (400, "purpose_text_required")
    n = consumer.request_offer(oid, "credit_risk", purpose_text=WHY)
    assert n.state == "REQUESTED" and n.agreement_id is None
    assert provider.agree_negotiation(n.id).state == "AGREED"
    assert consumer.verify_negotiation(n.id).state == "VERIFIED"
    done = provider.finalize_negotiation(n.id, note="同意")
    assert done.state == "FINALIZED" and done.agreement_id is not None
    assert trail(done) == [("request", None, "REQUESTED", "consumer"),
                           ("agree", "REQUESTED", "AGREED", "provider"),
                           ("verify", "AGREED", "VERIFIED", "consumer"),
                           ("finalize", "VERIFIED", "FINALIZED", "provider")]
    assert ledger_actions(exchange, f"agreement:{done.agreement_id}") == ["agreement.concluded"]


def test_counter_offers_from_both_sides(provider: Client, consumer: Client,
                                        product: str) -> None:
    oid = offer(provider, purpose("credit_risk", "academic_research"), price_fen=500_00)
    # The consumer's counter-terms make even an instant offer wait for the provider.
    n = consumer.request_offer(oid, "credit_risk", terms={"price_fen": 300_00})
    assert (n.state, n.terms["price_fen"], n.proposed_by) == ("REQUESTED", 300_00, "consumer")
    n = provider.counter_offer(n.id, {"price_fen": 400_00, "plan": "subscription",
                                      "period": "year"}, note="年付可优惠")
    assert (n.state, n.terms["price_fen"], n.terms["period"]) == ("OFFERED", 400_00, "year")
    n = consumer.counter_request(n.id, {"price_fen": 350_00})
    assert (n.state, n.terms["plan"], n.terms["price_fen"]) == ("REQUESTED", "subscription",
                                                                 350_00)
    n = provider.counter_offer(n.id, {"policy": make_policy(purpose("credit_risk"),
                                                            quota(1000, "rows"))})
    assert n.state == "OFFERED"
    n = consumer.accept_offer(n.id)
    assert n.state == "ACCEPTED"
    n = provider.agree_negotiation(n.id)
    n = consumer.verify_negotiation(n.id)
    n = provider.finalize_negotiation(n.id)
    a = consumer.get_agreement(n.agreement_id)  # type: ignore[arg-type]
    assert (a.plan, a.period, a.price_fen) == ("subscription", "year", 350_00)
    assert a.terms["quotas"] == {"rows": 1000} and a.valid_until is not None
    assert [s.message for s in n.steps] == ["request", "offer", "request", "offer", "accept",
                                            "agree", "verify", "finalize"]
    assert n.steps[1].terms["price_fen"] == 400_00 and n.steps[1].note == "年付可优惠"


def test_counter_terms_are_validated(provider: Client, consumer: Client, product: str) -> None:
    oid = offer(provider)
    for terms, code in [({"plan": "subscription"}, "period_required"),
                        ({"period": "month"}, "period_not_allowed"),
                        ({"policy": {"permission": []}}, "invalid_policy"),
                        ({"price_fen": None}, "invalid_terms")]:
        e = api_error(lambda t=terms: consumer.request_offer(  # type: ignore[misc]
            oid, "credit_risk", terms=t))
        assert (e.status, e.code) == (400, code), terms
    assert api_error(lambda: consumer.request_offer(oid, "credit_risk", terms={
        "price_fen": 1.5})).status == 422
    assert api_error(lambda: consumer.request_offer(oid, "gambling")).code == "invalid_purpose"
    assert api_error(lambda: consumer.request_offer(oid, "other")).code == \
        "purpose_text_required"
    assert consumer.list_negotiations().items == []


def test_policy_refusal_explains_itself(provider: Client, consumer: Client,
                                        product: str) -> None:
    oid = offer(provider, purpose("academic_research"))
    decision = consumer.evaluate_offer(oid, purpose="credit_risk")
    assert not decision.allowed
    [denied] = [r for r in decision.rules if r.outcome == "deny"]
    assert (denied.rule, denied.code) == ("permission[0].constraint[1]", "purpose_not_allowed")
    e = api_error(lambda: consumer.request_offer(oid, "credit_risk"))
    assert (e.status, e.code) == (403, "policy_denied")
    assert e.details["decision"]["allowed"] is False
    assert "purpose_not_allowed" in {r["code"] for r in e.details["decision"]["rules"]}
    assert consumer.evaluate_offer(oid, purpose="academic_research").allowed
    # A provider's counter-offer the consumer could not take is refused too.
    ok = consumer.request_offer(oid, "academic_research", terms={"price_fen": 1})
    e = api_error(lambda: provider.counter_offer(ok.id, {"policy": make_policy(
        purpose("marketing_analysis"))}))
    assert e.code == "policy_denied"
    assert consumer.get_negotiation(ok.id).state == "REQUESTED"


def _at(state: str, provider: Client, consumer: Client, oid: int) -> int:
    """A negotiation brought to `state` by legal messages."""
    n = consumer.request_offer(oid, "credit_risk", purpose_text=WHY)
    path: dict[str, list[Callable[[int], object]]] = {
        "REQUESTED": [],
        "OFFERED": [lambda i: provider.counter_offer(i, {"price_fen": 1})],
        "ACCEPTED": [lambda i: provider.counter_offer(i, {"price_fen": 1}),
                     consumer.accept_offer],
        "AGREED": [provider.agree_negotiation],
        "VERIFIED": [provider.agree_negotiation, consumer.verify_negotiation],
        "FINALIZED": [provider.agree_negotiation, consumer.verify_negotiation,
                      provider.finalize_negotiation],
        "TERMINATED": [lambda i: consumer.terminate_negotiation(i, "不再需要")],
    }
    for step in path[state]:
        step(n.id)
    assert consumer.get_negotiation(n.id).state == state
    return n.id


# (state, who, message): every message that is illegal in that state, sent by the side
# that may send it elsewhere.
ILLEGAL = [
    ("REQUESTED", "consumer", "request"), ("REQUESTED", "consumer", "accept"),
    ("REQUESTED", "consumer", "verify"), ("REQUESTED", "provider", "finalize"),
    ("OFFERED", "provider", "offer"), ("OFFERED", "provider", "agree"),
    ("OFFERED", "consumer", "verify"), ("OFFERED", "provider", "finalize"),
    ("ACCEPTED", "consumer", "request"), ("ACCEPTED", "provider", "offer"),
    ("ACCEPTED", "consumer", "accept"), ("ACCEPTED", "consumer", "verify"),
    ("ACCEPTED", "provider", "finalize"),
    ("AGREED", "consumer", "request"), ("AGREED", "provider", "offer"),
    ("AGREED", "consumer", "accept"), ("AGREED", "provider", "agree"),
    ("AGREED", "provider", "finalize"),
    ("VERIFIED", "consumer", "request"), ("VERIFIED", "provider", "offer"),
    ("VERIFIED", "consumer", "accept"), ("VERIFIED", "provider", "agree"),
    ("VERIFIED", "consumer", "verify"),
    *[(final, side, msg) for final in ("FINALIZED", "TERMINATED")
      for side, msg in [("consumer", "request"), ("provider", "offer"), ("consumer", "accept"),
                        ("provider", "agree"), ("consumer", "verify"),
                        ("provider", "finalize"), ("consumer", "terminate"),
                        ("provider", "terminate")]],
]


def _send(c: Client, message: str, nid: int) -> object:
    if message in ("offer", "request"):
        return getattr(c, f"counter_{message}")(nid, {"price_fen": 2})
    if message == "terminate":
        return c.terminate_negotiation(nid, "x")
    return getattr(c, {"accept": "accept_offer"}.get(message, f"{message}_negotiation"))(nid)


def test_illegal_transitions_are_refused(provider: Client, consumer: Client,
                                         product: str) -> None:
    oid = offer(provider, approval="manual")
    made = {state: _at(state, provider, consumer, oid) for state in
            ("REQUESTED", "OFFERED", "ACCEPTED", "AGREED", "VERIFIED", "FINALIZED",
             "TERMINATED")}
    for state, side, message in ILLEGAL:
        who = consumer if side == "consumer" else provider
        e = api_error(lambda: _send(who, message, made[state]))  # noqa: B023
        assert (e.status, e.code) == (409, "illegal_transition"), (state, message)
        assert e.details["state"] == state and e.details["message_type"] == message
        assert state in e.message and message in e.message
        assert consumer.get_negotiation(made[state]).state == state


@pytest.mark.parametrize(("side", "message"), [
    ("provider", "request"), ("consumer", "offer"), ("provider", "accept"),
    ("consumer", "agree"), ("provider", "verify"), ("consumer", "finalize")])
def test_wrong_side_is_forbidden(provider: Client, consumer: Client, product: str, side: str,
                                 message: str) -> None:
    oid = offer(provider, approval="manual")
    nid = _at("REQUESTED", provider, consumer, oid)
    e = api_error(lambda: _send(provider if side == "provider" else consumer, message, nid))
    assert (e.status, e.code) == (403, "wrong_side")


def test_termination_by_either_side_with_reason(provider: Client, consumer: Client,
                                                product: str, exchange: Exchange) -> None:
    oid = offer(provider, approval="manual")
    by_consumer = _at("OFFERED", provider, consumer, oid)
    t = consumer.terminate_negotiation(by_consumer, "价格过高")
    assert (t.state, t.termination_reason) == ("TERMINATED", "价格过高")
    assert t.steps[-1].side == "consumer" and t.steps[-1].note == "价格过高"
    by_provider = _at("VERIFIED", provider, consumer, oid)
    assert provider.terminate_negotiation(by_provider, "数据源变更").state == "TERMINATED"
    assert ledger_actions(exchange, f"negotiation:{by_provider}")[-1] == \
        "negotiation.terminated"
    assert api_error(lambda: consumer.terminate_negotiation(by_provider, "")).status == 422
    with exchange.read() as s:
        assert s.scalars(select(Agreement)).all() == []
        assert s.scalars(select(Entitlement)).all() == []


def test_withdrawn_offer_and_refusals_before_a_negotiation(
        provider: Client, consumer: Client, orgs: Orgs, product: str) -> None:
    oid = offer(provider, approval="manual")
    waiting = _at("VERIFIED", provider, consumer, oid)
    provider.withdraw_offer(oid)
    assert api_error(lambda: provider.finalize_negotiation(waiting)).code == "offer_withdrawn"
    assert api_error(lambda: consumer.request_offer(oid, "credit_risk", purpose_text=WHY)
                     ).code == "offer_withdrawn"
    assert consumer.get_negotiation(waiting).state == "VERIFIED"
    live = offer(provider)
    # Only consumers negotiate, and never for their own product.
    assert api_error(lambda: provider.request_offer(live, "credit_risk")).code == \
        "role_required"
    both = orgs.new(["provider", "consumer"])
    both.create_product("own", "自有数据")
    own = both.create_offer("own", "自用", plan="per_query", price_fen=1,
                            policy=make_policy()).id
    assert api_error(lambda: both.request_offer(own, "credit_risk")).code == "own_product"
    assert api_error(lambda: consumer.request_offer(999999, "credit_risk")).code == \
        "offer_not_found"


def test_other_organisations_get_nothing(provider: Client, consumer: Client, orgs: Orgs,
                                         product: str) -> None:
    oid = offer(provider, approval="manual")
    nid = _at("REQUESTED", provider, consumer, oid)
    stranger = orgs.new(["consumer", "provider"])
    assert stranger.list_negotiations().items == []
    assert stranger.list_negotiations(role="provider").items == []
    for call in (lambda: stranger.get_negotiation(nid),
                 lambda: stranger.counter_offer(nid, {"price_fen": 1}),
                 lambda: stranger.counter_request(nid, {"price_fen": 1}),
                 lambda: stranger.accept_offer(nid), lambda: stranger.agree_negotiation(nid),
                 lambda: stranger.verify_negotiation(nid),
                 lambda: stranger.finalize_negotiation(nid),
                 lambda: stranger.terminate_negotiation(nid, "x")):
        e = api_error(call)
        assert (e.status, e.code) == (404, "negotiation_not_found")
    assert consumer.get_negotiation(nid).state == "REQUESTED"
    assert api_error(lambda: consumer.list_negotiations(state="DONE")).code == "invalid_state"
    assert [x.id for x in consumer.list_negotiations(state="REQUESTED").items] == [nid]


def test_lists_are_paged(provider: Client, consumer: Client, product: str) -> None:
    oid = offer(provider, approval="manual")
    ids = [consumer.request_offer(oid, "credit_risk", purpose_text=WHY).id for _ in range(3)]
    first = consumer.list_negotiations(limit=2)
    assert [n.id for n in first.items] == ids[:2] and first.next_page_token
    rest = consumer.list_negotiations(limit=2, page_token=first.next_page_token)
    assert [n.id for n in rest.items] == ids[2:] and rest.next_page_token is None


def test_concurrent_messages_move_the_state_once(provider: Client, consumer: Client,
                                                 product: str, exchange: Exchange) -> None:
    import threading

    from shugu.client import ShuguAPIError

    oid = offer(provider, approval="manual")
    nid = _at("VERIFIED", provider, consumer, oid)
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def go(i: int) -> None:
        start.wait()
        try:
            if i % 2:
                provider.finalize_negotiation(nid)
            else:
                consumer.terminate_negotiation(nid, "race")
            outcomes.append("ok")
        except ShuguAPIError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["illegal_transition"] * 7 + ["ok"]
    final = consumer.get_negotiation(nid)
    assert final.state in ("FINALIZED", "TERMINATED")
    assert [s.message for s in final.steps][-1] in ("finalize", "terminate")
    assert len(final.steps) == 4
    with exchange.read() as s:
        agreements = s.scalars(select(Agreement)).all()
    assert len(agreements) == (1 if final.state == "FINALIZED" else 0)
