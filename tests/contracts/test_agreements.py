"""Agreements: frozen terms whose hash anyone can recompute and find in the ledger,
termination by either party, the delete-after-expiry duty, nothing for other organisations."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta

from sqlalchemy import select

from shugu.client import Client
from shugu.contracts.models import Agreement
from shugu.db import utcnow
from shugu.jsoncanon import canonical_bytes
from shugu.ledger.models import LedgerEvent
from shugu.runtime import Exchange
from tests.conftest import Orgs
from tests.contracts.conftest import SLUG, api_error, make_policy, offer, purpose, quota


def conclude(provider: Client, consumer: Client, *constraints: dict[str, object],
             duty: bool = False, **kw: object) -> int:
    oid = provider.create_offer(SLUG, "标准报价", plan=kw.pop("plan", "one_time"),  # type: ignore[arg-type]
                                price_fen=kw.pop("price_fen", 88_00),  # type: ignore[arg-type]
                                policy=make_policy(*constraints, duty=duty),  # type: ignore[arg-type]
                                **kw).id  # type: ignore[arg-type]
    n = consumer.request_offer(oid, "credit_risk", purpose_text="授信审批")
    assert n.agreement_id is not None
    return n.agreement_id


def test_terms_are_frozen_hashed_and_in_the_ledger(provider: Client, consumer: Client,
                                                   product: str, exchange: Exchange) -> None:
    aid = conclude(provider, consumer, purpose("credit_risk"), quota(10),
                   {"leftOperand": "epsilon", "operator": "lteq", "rightOperand": 1.5},
                   plan="subscription", period="month", price_fen=2000_00)
    a = consumer.get_agreement(aid)
    assert a.number.startswith("SG-AGR-") and a.number.endswith(f"{aid:06d}")
    t = a.terms
    me = consumer.me()
    assert t["consumer"]["uscc"] == me.organization.uscc
    assert t["provider"]["org_id"] == provider.org_id  # type: ignore[attr-defined]
    assert (t["product"]["slug"], t["plan"], t["period"], t["price_fen"], t["currency"]) == (
        SLUG, "subscription", "month", 2000_00, "CNY")
    assert (t["purpose"], t["purpose_text"], t["epsilon"]) == ("credit_risk", "授信审批", 1.5)
    assert t["policy"]["@type"] == "Agreement" and t["policy"]["uid"] == a.number
    assert t["policy"]["assignee"] == me.organization.uscc
    # One subscription period from the start, as nothing in the policy says otherwise.
    assert a.valid_until is not None
    assert timedelta(days=28) <= a.valid_until - a.valid_from <= timedelta(days=31)
    # The hash: SHA-256 over the canonical JSON of the terms, as the API returns them.
    recomputed = hashlib.sha256(canonical_bytes(t)).hexdigest()
    assert recomputed == a.terms_hash
    assert hashlib.sha256(json.dumps(t, sort_keys=True, separators=(",", ":"),
                                     ensure_ascii=False).encode()).hexdigest() == a.terms_hash
    [event] = consumer.events(action="agreement.concluded").items
    assert event.subject == f"agreement:{aid}"
    assert event.payload["terms_hash"] == a.terms_hash
    assert event.payload["number"] == a.number
    # The billing columns say what the terms say.
    with exchange.read() as s:
        row = s.get(Agreement, aid)
        assert row is not None
        assert (row.plan, row.period, row.price_fen, row.entitlement_id) == (
            "subscription", "month", 2000_00, a.entitlement_id)
    assert provider.list_agreements(role="provider").items[0].terms_hash == a.terms_hash


def test_termination_by_either_party_revokes_the_entitlement(
        provider: Client, consumer: Client, product: str, exchange: Exchange) -> None:
    first = conclude(provider, consumer)
    a = consumer.terminate_agreement(first, "业务调整")
    assert (a.status, a.live, a.termination_reason) == ("terminated", False, "业务调整")
    e = consumer.get_entitlement(a.entitlement_id)  # type: ignore[arg-type]
    assert not e.live and "业务调整" in (e.revoke_reason or "")
    assert api_error(lambda: provider.terminate_agreement(first, "x")).code == \
        "agreement_terminated"
    second = conclude(provider, consumer)
    # The provider already revoked the entitlement directly: terminating still works.
    provider.revoke_entitlement(consumer.get_agreement(second).entitlement_id, "先停用")  # type: ignore[arg-type]
    assert provider.terminate_agreement(second, "违约").status == "terminated"
    with exchange.read() as s:
        actions = s.scalars(select(LedgerEvent.action).where(
            LedgerEvent.subject == f"agreement:{second}").order_by(LedgerEvent.seq)).all()
    assert actions == ["agreement.concluded", "agreement.terminated"]
    assert api_error(lambda: consumer.terminate_agreement(second, "")).status == 422


def test_delete_duty(provider: Client, consumer: Client, product: str,
                     exchange: Exchange) -> None:
    none = conclude(provider, consumer)
    assert consumer.get_agreement(none).deletion_duty == "none"
    provider.terminate_agreement(none, "x")
    assert api_error(lambda: consumer.confirm_deletion(none)).code == "no_deletion_duty"
    aid = conclude(provider, consumer, {"leftOperand": "elapsedTime", "operator": "lteq",
                                        "rightOperand": "PT2S"}, duty=True)
    a = consumer.get_agreement(aid)
    assert (a.deletion_duty, a.live) == ("not_due", True)
    e = api_error(lambda: consumer.confirm_deletion(aid))
    assert (e.status, e.code) == (409, "deletion_not_due")
    assert a.valid_until is not None
    time.sleep(max(0.0, (a.valid_until - utcnow()).total_seconds()) + 0.1)
    a = consumer.get_agreement(aid)
    assert (a.deletion_duty, a.live, a.status) == ("due", False, "active")
    assert api_error(lambda: provider.confirm_deletion(aid)).code == "wrong_side"
    done = consumer.confirm_deletion(aid)
    assert done.deletion_duty == "fulfilled" and done.deletion_confirmed_at is not None
    assert api_error(lambda: consumer.confirm_deletion(aid)).code == \
        "deletion_already_confirmed"
    assert consumer.events(action="agreement.deletion_confirmed").items[0].subject == \
        f"agreement:{aid}"
    # After termination the duty is due at once.
    later = conclude(provider, consumer, duty=True)
    provider.terminate_agreement(later, "提前终止")
    assert consumer.get_agreement(later).deletion_duty == "due"


def test_other_organisations_get_nothing(provider: Client, consumer: Client, orgs: Orgs,
                                         product: str) -> None:
    aid = conclude(provider, consumer, duty=True)
    stranger = orgs.new(["consumer", "provider"])
    assert stranger.list_agreements().items == []
    assert stranger.list_agreements(role="provider").items == []
    for call in (lambda: stranger.get_agreement(aid),
                 lambda: stranger.terminate_agreement(aid, "x"),
                 lambda: stranger.confirm_deletion(aid)):
        e = api_error(call)
        assert (e.status, e.code) == (404, "agreement_not_found")
    assert consumer.get_agreement(aid).status == "active"
    assert [a.id for a in consumer.list_agreements().items] == [aid]
    assert consumer.list_agreements(role="provider").items == []
    assert api_error(lambda: consumer.list_agreements(role="boss")).status == 422


def test_recipient_named_by_uscc(provider: Client, consumer: Client, orgs: Orgs,
                                 product: str) -> None:
    uscc = consumer.me().organization.uscc
    oid = offer(provider, {"leftOperand": "recipient", "operator": "isAnyOf",
                           "rightOperand": [uscc]})
    other = orgs.new(["consumer"])
    e = api_error(lambda: other.request_offer(oid, "credit_risk"))
    assert e.code == "policy_denied"
    assert consumer.request_offer(oid, "credit_risk").state == "FINALIZED"


def test_operators_and_auditors_read_agreements(provider: Client, consumer: Client,
                                                operator: Client, orgs: Orgs,
                                                product: str) -> None:
    oid = offer(provider)
    aid = consumer.request_offer(oid, "credit_risk").agreement_id
    assert aid is not None
    auditor = orgs.new(["auditor"], "审计署")
    for overseer in (operator, auditor):
        assert overseer.get_agreement(aid).id == aid
        assert [a.id for a in overseer.list_agreements(role="all").items] == [aid]
    # Reading is all they may do: they are no party to terminate it.
    assert api_error(lambda: auditor.terminate_agreement(aid, "x")).code == \
        "agreement_not_found"
    assert api_error(lambda: consumer.list_agreements(role="all")).code == \
        "operator_or_auditor_required"
