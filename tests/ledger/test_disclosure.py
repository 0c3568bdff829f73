"""Who sees what of the ledger, over the real HTTP API, on SQLite and PostgreSQL.

A market with one listed product; the provider also keeps a draft product (never listed)
with a published revision and its fingerprint, makes a private offer to the consumer, who
takes it (negotiation, agreement), and the operator bills it (an invoice). Each of those
private facts is then read as: a party, another organisation, anonymously, the operator
and an auditor. Everyone may check proofs on the public form; a party's openings verify
offline against the platform key.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from shugu.cli import app
from shugu.client import Client, ShuguAPIError
from shugu.db import utcnow
from shugu.ledger.events import leaf_data_v2, public_subject, sth_message
from shugu.ledger.merkle import leaf_hash
from shugu.ledger.openings import verify_bundle
from shugu.ledger.proofs import verify_consistency, verify_inclusion
from shugu.ledger.schemas import EventOut
from shugu.platform_key import verify_signature
from tests.billing.conftest import SLUG, Market, market  # noqa: F401 - the fixture
from tests.conftest import Orgs

DRAFT = "secret-draft-xq"
DRAFT_TITLE = "未公开的草稿产品"
PRICE = 987_654  # fen; distinctive so its digits cannot turn up by chance
runner = CliRunner()


@dataclass
class Facts:
    """seq of each private fact's event, and the strings that must not leak."""

    offer: int
    negotiation: list[int]
    agreement: int
    invoice: int
    invoice_total: int
    draft_created: int
    fingerprint: int
    fingerprint_root: str
    other: Client
    auditor: Client
    anonymous: Client


def all_events(client: Client, **filters: Any) -> list[EventOut]:
    items: list[EventOut] = []
    token: str | None = None
    while True:
        page = client.events(limit=200, page_token=token, **filters)
        items += page.items
        token = page.next_page_token
        if token is None:
            return items


def seqs(client: Client, action: str) -> list[int]:
    return [e.seq for e in all_events(client, action=action, mine=True)]


@pytest.fixture
def facts(market: Market, orgs: Orgs) -> Facts:  # noqa: F811 - the imported fixture
    p, c, op = market.provider, market.consumer, market.operator
    # A draft product with data, a published revision and its fingerprint.
    p.create_product(DRAFT, DRAFT_TITLE)
    p.create_table(DRAFT, "t")
    p.ingest(DRAFT, "t", b"a,b\n1,2\n", format="csv", filename="机密名单.csv")
    p.publish_revision(DRAFT, "r1")
    fp = p.record_fingerprint(DRAFT, 1)
    # A private offer to the consumer, taken: negotiation and agreement.
    policy = {"@context": "http://www.w3.org/ns/odrl.jsonld", "@type": "Offer",
              "permission": [{"action": "use", "constraint": [
                  {"leftOperand": "deliveryMode", "operator": "isAnyOf",
                   "rightOperand": ["share", "sandbox"]}]}]}
    offer = p.create_offer(SLUG, "专属报价", plan="one_time", price_fen=PRICE, policy=policy,
                           visibility="private",
                           private_org_id=c.org_id)  # type: ignore[attr-defined]
    negotiation = c.request_offer(offer.id, "credit_risk")
    assert negotiation.agreement_id is not None
    [invoice] = op.run_billing(utcnow())
    auditor = orgs.new(["auditor"], "审计署")
    other = orgs.new(["consumer"], "其他机构")

    def one(action: str, subject: str) -> int:
        [seq] = [e.seq for e in all_events(op, action=action, subject=subject)]
        return seq

    return Facts(
        offer=one("offer.created", f"offer:{offer.id}"),
        negotiation=[e.seq for e in all_events(op, subject=f"negotiation:{negotiation.id}")],
        agreement=one("agreement.concluded", f"agreement:{negotiation.agreement_id}"),
        invoice=one("invoice.issued", f"invoice:{invoice.number}"),
        invoice_total=invoice.total_fen,
        draft_created=one("product.created", f"product:{DRAFT}"),
        fingerprint=one("fingerprint.recorded", f"product:{DRAFT}/revision:1"),
        fingerprint_root=fp.root,
        other=other, auditor=auditor, anonymous=Client(market.server.url))


def raw(server_url: str, path: str, token: str | None = None) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = httpx.get(server_url + "/api/v1" + path, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    return r.text


SECRETS = (DRAFT, DRAFT_TITLE, "机密名单", str(PRICE))


def test_who_sees_what(market: Market, facts: Facts) -> None:  # noqa: F811
    p, c = market.provider, market.consumer
    classes = {  # fact -> (its events, the parties, what the opening shows)
        "private offer": ([facts.offer], [p, c], ("price_fen", PRICE)),
        "negotiation terms": (facts.negotiation, [p, c], None),
        "agreement": ([facts.agreement], [p, c], None),
        "invoice total": ([facts.invoice], [p, c], ("total_fen", facts.invoice_total)),
        "draft product": ([facts.draft_created], [p], ("title_zh", DRAFT_TITLE)),
        "draft fingerprint": ([facts.fingerprint], [p], ("root", facts.fingerprint_root)),
    }
    overseers = [market.operator, facts.auditor]
    outsiders = [facts.other, facts.anonymous]
    for name, (events, parties, shown) in classes.items():
        assert events, name
        for seq in events:
            for reader in parties + overseers:
                e = reader.event(seq)
                assert e.opening is not None, (name, seq)
                assert reader.opening(seq).opening == e.opening
                assert e.opening.subject != e.subject or "product" not in e.opening.subject
                if shown is not None and seq == events[0]:
                    key, value = shown
                    assert e.opening.payload[key] == value, (name, e.opening.payload)
            for reader in outsiders:
                e = reader.event(seq)
                assert e.opening is None, (name, seq)
                assert e.commitment is not None and e.version == 2
                dumped = e.model_dump_json()
                assert not any(s in dumped for s in SECRETS), (name, dumped)
                with pytest.raises(ShuguAPIError) as info:
                    reader.opening(seq)
                expected = (401, "token_missing") if reader is facts.anonymous \
                    else (403, "not_a_party")
                assert (info.value.status, info.value.code) == expected
    # The draft's slug is blinded for the public, even in the subject.
    assert facts.anonymous.event(facts.draft_created).subject == "product:~"
    assert facts.anonymous.event(facts.fingerprint).subject == "product:~/revision:1"


def test_the_whole_public_listing_leaks_nothing(market: Market, facts: Facts) -> None:  # noqa: F811
    # The other organisation sees its own events' openings, and only those.
    mine = all_events(facts.other, mine=True)
    assert mine and all(e.opening is not None for e in mine)
    assert [e.action for e in mine][:3] == ["organization.created", "user.created",
                                            "token.created"]
    assert {e.seq for e in mine}.isdisjoint({facts.offer, facts.invoice, facts.draft_created})
    for token, opened in ((None, set()), (facts.other.token, {e.seq for e in mine})):
        page = raw(market.server.url, "/ledger/events?limit=500", token)
        assert not any(s in page for s in SECRETS), token
        assert f'"total_fen":{facts.invoice_total}' not in page
        body = json.loads(page)
        assert {i["seq"] for i in body["items"] if i["opening"] is not None} == opened
        assert body["total"] == len(body["items"])


def test_filters_cannot_probe_hidden_names(market: Market, facts: Facts) -> None:  # noqa: F811
    subject = f"product:{DRAFT}"
    assert all_events(facts.other, subject=subject) == []
    assert all_events(facts.anonymous, subject=subject) == []
    assert [e.seq for e in all_events(market.provider, subject=subject)] == \
        [facts.draft_created]
    assert facts.draft_created in [e.seq for e in all_events(facts.auditor, subject=subject)]
    # The public subject filter works for all, and matches every blinded product alike.
    blinded = all_events(facts.anonymous, subject="product:~")
    assert facts.draft_created in [e.seq for e in blinded]
    assert all(e.opening is None for e in blinded)
    with pytest.raises(ShuguAPIError) as info:
        facts.anonymous.events(mine=True)
    assert info.value.status == 401


def test_proofs_verify_on_the_public_form(market: Market, facts: Facts) -> None:  # noqa: F811
    anon = facts.anonymous
    key = anon.public_key()
    sth = anon.tree_head()
    assert sth.public_key == key.public_key
    assert verify_signature(key.public_key, sth_message(sth.size, sth.root, sth.timestamp),
                            sth.signature)
    events = all_events(anon)
    assert [e.seq for e in events] == list(range(sth.size))
    for e in events:
        assert e.commitment is not None
        leaf = leaf_hash(leaf_data_v2(e.seq, e.ts, e.action, e.subject, e.commitment))
        assert leaf.hex() == e.leaf_hash
        proof = anon.inclusion_proof(e.seq, sth.size)
        assert verify_inclusion(leaf, e.seq, sth.size,
                                [bytes.fromhex(h) for h in proof.audit_path],
                                bytes.fromhex(sth.root))
    market.provider.create_product("later-xq", "后来的产品")  # the ledger grows
    later = anon.tree_head()
    if later.size > sth.size:
        proof = anon.consistency_proof(sth.size, later.size)
        assert verify_consistency(sth.size, later.size, bytes.fromhex(sth.root),
                                  bytes.fromhex(later.root),
                                  [bytes.fromhex(h) for h in proof.proof])
    # The one key, served twice, anonymously.
    other_path = json.loads(raw(market.server.url, "/public/platform-key"))
    assert other_path["public_key"] == key.public_key
    assert base64.b64decode(key.public_key) and key.algorithm == "Ed25519"


def test_a_partys_openings_verify_offline(market: Market, facts: Facts,  # noqa: F811
                                          tmp_path: Path) -> None:
    key = market.exchange.key.public_b64
    bundle = market.consumer.openings()
    seqs_ = [item["event"]["seq"] for item in bundle["items"]]
    assert facts.offer in seqs_ and facts.invoice in seqs_ and facts.agreement in seqs_
    assert facts.draft_created not in seqs_  # not the consumer's
    report = verify_bundle(bundle, key)
    assert report.ok, [c for c in report.checks if not c.ok]
    assert market.consumer.verify_openings(bundle).ok
    assert facts.anonymous.verify_openings(bundle).ok  # checking needs no account

    # Tampering with an opening, or passing another event's opening, is caught.
    forged = json.loads(json.dumps(bundle))
    item = next(i for i in forged["items"] if i["event"]["seq"] == facts.invoice)
    payload = json.loads(item["opening"]["payload_json"])
    payload["total_fen"] += 1
    item["opening"]["payload_json"] = json.dumps(payload, sort_keys=True,
                                                 separators=(",", ":"), ensure_ascii=False)
    assert not verify_bundle(forged, key).ok
    assert not facts.auditor.verify_openings(forged).ok
    swapped = json.loads(json.dumps(bundle))
    a, b = swapped["items"][0], swapped["items"][1]
    a["opening"], b["opening"] = b["opening"], a["opening"]
    assert not verify_bundle(swapped, key).ok
    moved = json.loads(json.dumps(bundle))
    moved["items"][0]["audit_path"] = moved["items"][1]["audit_path"]
    assert not verify_bundle(moved, key).ok
    other_key = base64.b64encode(b"\x01" * 32).decode()
    assert not verify_bundle(bundle, other_key).ok

    # The CLI: a party exports with its token, the auditor checks offline with the key.
    out = tmp_path / "openings.json"
    url = market.server.url
    result = runner.invoke(app, ["ledger", "openings", str(out), "--url", url,
                                 "--token", str(market.consumer.token)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["ledger", "public-key", "--url", url])
    assert result.exit_code == 0 and result.stdout.strip() == key
    result = runner.invoke(app, ["ledger", "verify-openings", str(out), "--public-key", key])
    assert result.exit_code == 0, result.output
    out.write_text(json.dumps(forged), "utf-8")
    result = runner.invoke(app, ["ledger", "verify-openings", str(out), "--public-key", key])
    assert result.exit_code == 1, result.output
    result = runner.invoke(app, ["ledger", "verify-openings", str(out),
                                 "--public-key", "nonsense"])
    assert result.exit_code == 2 and "public key" in result.output


def test_public_subject_rule() -> None:
    assert public_subject("product:power-use/table:monthly") == "product:~/table:~"
    assert public_subject("product:power-use/revision:3") == "product:~/revision:3"
    assert public_subject("table:17") == "table:17"
    assert public_subject("offer:12") == "offer:12"
    assert public_subject("invoice:SG-INV-2026-000001") == "invoice:~"
    assert public_subject("voucher:SG-VCH-2026-000001") == "voucher:~"
    assert public_subject("certificate:SG-DIP-2026-000001") == "certificate:SG-DIP-2026-000001"
