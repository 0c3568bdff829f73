"""The ledger over the real HTTP API and SDK, checked the way an outside auditor would."""

from __future__ import annotations

import base64
import json

import pytest

from shugu.client import Client, ShuguAPIError
from shugu.jsoncanon import dumps
from shugu.ledger.events import commitment, leaf_data_v2, public_subject, sth_message
from shugu.ledger.merkle import leaf_hash
from shugu.ledger.proofs import verify_consistency, verify_inclusion
from shugu.ledger.schemas import EventOut, SignedTreeHead
from shugu.platform_key import key_id_of, verify_signature
from shugu.runtime import Exchange
from tests.conftest import LiveServer, Orgs


def api_error(call: object) -> ShuguAPIError:
    with pytest.raises(ShuguAPIError) as info:
        call()  # type: ignore[operator]
    return info.value


def all_events(client: Client, **filters: str) -> list[EventOut]:
    items: list[EventOut] = []
    token: str | None = None
    while True:
        page = client.events(limit=3, page_token=token, **filters)
        items += page.items
        token = page.next_page_token
        if token is None:
            return items


def check_sth(sth: SignedTreeHead, public_key: str) -> None:
    """An STH is only worth its signature: check it with the published key."""
    assert sth.key_id == key_id_of(base64.b64decode(public_key))
    assert verify_signature(public_key, sth_message(sth.size, sth.root, sth.timestamp),
                            sth.signature)


def test_events_of_earlier_calls_are_proven_in_a_signed_tree_head(
    exchange: Exchange, operator: Client, orgs: Orgs
) -> None:
    provider = orgs.new(["provider"], "浙江电网公司")
    auditor = orgs.new(["auditor"], "审计署")
    provider.create_product("power-use", "企业月度用电量")

    key = auditor.public_key()
    assert key.key_id == exchange.key.key_id and key.algorithm == "Ed25519"
    sth = auditor.tree_head()
    check_sth(sth, key.public_key)
    assert sth.public_key == key.public_key

    events = all_events(auditor)
    assert [e.seq for e in events] == list(range(sth.size))
    actions = [e.action for e in events]
    assert actions[:2] == ["organization.created", "user.created"]
    assert actions.count("organization.created") == 3
    assert "product.created" in actions
    created = [e for e in events if e.action == "organization.created"]
    # The auditor reads openings; the commitment binds them.
    assert created[1].opening is not None
    assert created[1].opening.payload["name"].startswith("浙江电网公司")

    for e in events:
        # Recompute the leaf from the event as served: the server's word is not enough.
        assert e.version == 2 and e.commitment is not None and e.opening is not None
        o = e.opening
        assert json.loads(o.payload_json) == o.payload and dumps(o.payload) == o.payload_json
        assert commitment(o.actor, o.subject, o.payload_json, o.salt or "") == e.commitment
        assert public_subject(o.subject) == e.subject
        leaf = leaf_hash(leaf_data_v2(e.seq, e.ts, e.action, e.subject, e.commitment))
        assert leaf.hex() == e.leaf_hash
        proof = auditor.inclusion_proof(e.seq, sth.size)
        assert (proof.seq, proof.tree_size, proof.root) == (e.seq, sth.size, sth.root)
        assert verify_inclusion(leaf, e.seq, sth.size, [bytes.fromhex(h)
                                                        for h in proof.audit_path],
                                bytes.fromhex(sth.root))
    assert auditor.event(3) == events[3]


def test_tree_heads_grow_consistently(operator: Client, orgs: Orgs) -> None:
    first = operator.tree_head()
    assert operator.tree_head() == first  # unchanged ledger, same STH: nothing re-signed
    orgs.new(["consumer"])
    second = operator.tree_head()
    assert second.size > first.size
    key = operator.public_key().public_key
    check_sth(second, key)
    proof = operator.consistency_proof(first.size, second.size)
    assert (proof.first_root, proof.second_root) == (first.root, second.root)
    assert verify_consistency(first.size, second.size, bytes.fromhex(first.root),
                              bytes.fromhex(second.root), [bytes.fromhex(h) for h in proof.proof])
    # An earlier tree's inclusion proof is still served for the older size.
    inc = operator.inclusion_proof(0, first.size)
    assert inc.root == first.root and inc.tree_size == first.size
    assert operator.inclusion_proof(0).tree_size == second.size


def test_filters_and_pagination(operator: Client, orgs: Orgs) -> None:
    org = orgs.new(["provider"])
    subject = f"org:{org.org_id}"  # type: ignore[attr-defined]
    mine = operator.events(subject=subject)
    assert [e.action for e in mine.items] == ["organization.created"]
    assert mine.total is None and mine.next_page_token is None
    users = all_events(operator, action="user.created")
    assert len(users) >= 2 and all(e.action == "user.created" for e in users)
    assert [e.seq for e in users] == sorted(e.seq for e in users)
    page = operator.events(limit=2)
    assert len(page.items) == 2 and page.total is not None and page.next_page_token


def test_refusals(server: LiveServer, operator: Client) -> None:
    anonymous = Client(server.url)
    # What needs an organisation: openings. The public form needs no token (see
    # test_disclosure.py); a token that is given must be valid.
    for call in (lambda: anonymous.opening(0), anonymous.openings):
        err = api_error(call)
        assert (err.status, err.code) == (401, "token_missing")
    anonymous.close()
    forged = Client(server.url, "shugu_nothing_here")
    err = api_error(forged.events)
    assert (err.status, err.code) == (401, "token_invalid")
    forged.close()

    size = operator.tree_head().size
    for call, status, code in (
        (lambda: operator.event(size + 5), 404, "event_not_found"),
        (lambda: operator.event(-1), 422, "invalid_request"),
        (lambda: operator.inclusion_proof(size + 5), 404, "event_not_found"),
        (lambda: operator.inclusion_proof(2, 2), 400, "invalid_tree_size"),
        (lambda: operator.inclusion_proof(0, size + 1), 400, "invalid_tree_size"),
        (lambda: operator.consistency_proof(3, 2), 400, "invalid_tree_size"),
        (lambda: operator.consistency_proof(1, size + 1), 400, "invalid_tree_size"),
        (lambda: operator.events(limit=0), 422, "invalid_request"),
        (lambda: operator.events(page_token="nonsense!"), 400, "invalid_page_token"),
    ):
        err = api_error(call)
        assert (err.status, err.code) == (status, code), err


def test_openings_refusals_and_garbage(server: LiveServer, operator: Client) -> None:
    size = operator.tree_head().size
    err = api_error(lambda: operator.openings(tree_size=size + 7))
    assert (err.status, err.code) == (404, "tree_head_not_found")
    for bad in (-1, 2**63, 10**30):
        err = api_error(lambda bad=bad: operator.openings(tree_size=bad))  # type: ignore[misc]
        assert err.status == 422, err
    err = api_error(lambda: operator.openings(limit=0))
    assert (err.status, err.code) == (422, "invalid_request")  # the declared range
    # A bundle against the current head verifies; nonsense is a verdict, never a 5xx.
    bundle = operator.openings(limit=2)
    assert len(bundle["items"]) == 2 and bundle["next_page_token"]
    rest = operator.openings(limit=100, page_token=bundle["next_page_token"],
                             tree_size=bundle["tree_head"]["size"])
    assert [i["event"]["seq"] for i in bundle["items"] + rest["items"]] == list(range(size))
    anonymous = Client(server.url)
    assert anonymous.verify_openings(bundle).ok
    for garbage in ({}, {"format": "shugu-ledger-openings/1"},
                    {**bundle, "tree_head": []}, {**bundle, "items": [1, "x", None]},
                    {**bundle, "items": [{"event": {"seq": True}, "opening": {},
                                          "audit_path": "zz"}]}):
        verdict = anonymous.verify_openings(garbage)
        assert not verdict.ok and verdict.checks
    # An integer no field can hold is refused by the request guard before any check.
    err = api_error(lambda: anonymous.verify_openings(
        {**bundle, "tree_head": {**bundle["tree_head"], "size": 10**40}}))
    assert (err.status, err.code) == (422, "value_out_of_range")
    anonymous.close()
