"""Pledges, and the registrations that act on a certificate: licence, transfer, change,
cancellation — each effect, each refusal."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from shugu.client import Client
from shugu.db import utcnow
from shugu.ledger.models import LedgerEvent
from shugu.runtime import Exchange
from tests.conftest import LiveServer, Orgs
from tests.rights.conftest import api_error, draft, end_notice, through

TERM = utcnow() + timedelta(days=365)


def public(server: LiveServer, number: str) -> dict[str, object]:
    response = httpx.get(f"{server.url}/api/v1/public/certificates/{number}", timeout=60)
    assert response.status_code == 200
    body: dict[str, object] = response.json()
    return body


def file_reg(client: Client, kind: str, number: str, **fields: object) -> int:
    reg = client.create_registration(kind, certificate=number, **fields)
    if kind == "transfer":
        client.upload_document(reg.id, "转让合同".encode(), filename="contract.txt")
    return reg.id


def test_pledge_encumbers_refuses_transfer_and_is_released(
        operator: Client, provider: Client, orgs: Orgs, certificate: str,
        server: LiveServer, exchange: Exchange) -> None:
    bank, buyer, stranger = orgs.new(["consumer"]), orgs.new(["consumer"]), \
        orgs.new(["consumer"])
    bank_id, buyer_id = bank.org_id, buyer.org_id  # type: ignore[attr-defined]
    assert api_error(lambda: stranger.register_pledge(certificate, bank_id, 100, TERM)).code \
        == "not_certificate_holder"
    assert api_error(lambda: provider.register_pledge(
        certificate, provider.org_id, 100, TERM)).code == "invalid_pledgee"  # type: ignore
    assert api_error(lambda: provider.register_pledge(certificate, bank_id, 0, TERM)).status \
        == 422
    assert api_error(lambda: provider.register_pledge(
        certificate, bank_id, 100, utcnow() - timedelta(days=1))).code == "invalid_term"
    assert api_error(lambda: provider.register_pledge(certificate, 99999, 100, TERM)).code == \
        "organization_not_found"
    pledge = provider.register_pledge(certificate, bank_id, 5_000_000_00, TERM, note="授信")
    assert pledge.status == "active" and pledge.amount_fen == 500_000_000
    status = public(server, certificate)
    assert status["status"] == "pledged"
    assert status["encumbrances"][0]["amount_fen"] == 500_000_000  # type: ignore[index]
    assert provider.certificate(certificate).status == "pledged"
    # The parties see the pledge; nobody else does.
    assert bank.pledge(pledge.id).id == pledge.id
    assert [p.id for p in provider.pledges()] == [pledge.id]
    assert stranger.pledges() == []
    assert api_error(lambda: stranger.pledge(pledge.id)).code == "pledge_not_found"
    assert api_error(lambda: stranger.release_pledge(pledge.id)).status == 404
    assert api_error(lambda: stranger.enforce_pledge(pledge.id)).status == 404
    assert api_error(lambda: provider.enforce_pledge(pledge.id)).code == "not_pledgee"
    assert stranger.pledges(certificate=certificate) == []
    # Transfer, change and cancellation are refused while pledged; a licence is not.
    for kind, fields in (("transfer", {"counterparty_org_id": buyer_id}),
                         ("cancellation", {"reason": "停止经营"})):
        assert api_error(lambda k=kind, f=fields: provider.create_registration(
            k, certificate=certificate, **f)).code == "certificate_pledged"
    licence = provider.create_registration("licence", certificate=certificate,
                                           counterparty_org_id=buyer_id, licence_scope="风控建模",
                                           rights=["processing_use"])
    assert licence.status == "draft"
    # Only the pledgee (or the operator) releases it, once.
    assert api_error(lambda: provider.release_pledge(pledge.id)).code == "not_pledgee"
    released = bank.release_pledge(pledge.id, "贷款已结清")
    assert released.status == "released" and released.end_note == "贷款已结清"
    assert api_error(lambda: bank.release_pledge(pledge.id)).code == "pledge_not_active"
    assert api_error(lambda: bank.enforce_pledge(pledge.id)).code == "pledge_not_active"
    assert public(server, certificate)["status"] == "valid"
    # Pledged between filing and issuing: the transfer is refused at issue, too.
    transfer = file_reg(provider, "transfer", certificate, counterparty_org_id=buyer_id)
    provider.submit_registration(transfer)
    second = provider.register_pledge(certificate, bank_id, 100, TERM)
    assert operator.review_registration(transfer, "approve").status == "substantive_review"
    operator.review_registration(transfer, "approve")
    end_notice(exchange, transfer)
    assert api_error(lambda: operator.issue_registration(transfer)).code == \
        "certificate_pledged"
    operator.release_pledge(second.id, "运营方解除")
    assert operator.issue_registration(transfer).status == "issued"
    with exchange.read() as s:
        acts = list(s.scalars(select(LedgerEvent.action).where(
            LedgerEvent.action.like("pledge.%")).order_by(LedgerEvent.seq)))
    assert acts == ["pledge.registered", "pledge.released", "pledge.registered",
                    "pledge.released"]


def test_enforced_pledge_transfers_the_certificate_to_the_pledgee(
        operator: Client, provider: Client, orgs: Orgs, certificate: str,
        server: LiveServer, exchange: Exchange) -> None:
    bank = orgs.new(["consumer"])
    pledge = provider.register_pledge(certificate, bank.org_id, 1_000_00, TERM)  # type: ignore
    assert api_error(lambda: bank.create_registration(
        "transfer", certificate=certificate, pledge_id=pledge.id)).code == "pledge_not_enforced"
    assert api_error(lambda: bank.create_registration(
        "transfer", certificate=certificate)).code == "not_certificate_holder"
    assert bank.enforce_pledge(pledge.id, "逾期未还").status == "enforced"
    assert public(server, certificate)["status"] == "valid"
    reg_id = file_reg(bank, "transfer", certificate, pledge_id=pledge.id)
    assert bank.registration(reg_id).counterparty_org_id == bank.org_id  # type: ignore
    new_number = through(operator, bank, exchange, reg_id)
    new = bank.certificate(new_number)
    assert new.holder_org_id == bank.org_id  # type: ignore[attr-defined]
    assert new.file.certificate["previous_number"] == certificate
    assert new.file.certificate["holder"]["name"] == bank.me().organization.name
    old = public(server, certificate)
    assert old["status"] == "transferred" and old["successor"] == new_number
    # The old holder can do nothing more with the old certificate.
    assert api_error(lambda: provider.register_pledge(certificate, bank.org_id, 1,  # type: ignore
                                                      TERM)).code == "certificate_not_in_effect"
    assert api_error(lambda: provider.create_registration(
        "cancellation", certificate=certificate, reason="x")).code == "certificate_not_in_effect"
    assert api_error(lambda: bank.create_registration(
        "cancellation", certificate=certificate, reason="x")).code == "not_certificate_holder"


def test_transfer_licence_change_and_cancellation(
        operator: Client, provider: Client, orgs: Orgs, certificate: str, product: str,
        server: LiveServer, exchange: Exchange) -> None:
    buyer, licensee = orgs.new(["provider"]), orgs.new(["consumer"])
    buyer_id, licensee_id = buyer.org_id, licensee.org_id  # type: ignore[attr-defined]
    # Licence: a licensee and a scope are recorded on the certificate.
    assert api_error(lambda: provider.create_registration(
        "licence", certificate=certificate, counterparty_org_id=provider.org_id,  # type: ignore
        licence_scope="x")).code == "invalid_counterparty"
    assert api_error(lambda: provider.create_registration(
        "licence", certificate=certificate, licence_scope="x")).code == "missing_field"
    lic = provider.create_registration("licence", certificate=certificate,
                                       counterparty_org_id=licensee_id,
                                       licence_scope="仅用于信贷风控", rights=["processing_use"])
    through(operator, provider, exchange, lic.id)
    licences = provider.certificate(certificate).licences
    assert [(x.licensee_org_id, x.scope) for x in licences] == [(licensee_id, "仅用于信贷风控")]
    # Change: a new revision; the old certificate is superseded by a new one.
    provider.ingest(product, "monthly", "district,month,kwh\n滨江区,2024-03,700\n".encode(),
                    format="csv")
    provider.publish_revision(product, "2024-03")
    assert api_error(lambda: provider.create_registration(
        "change", certificate=certificate, revision=2, reason="新增三月数据")).code == \
        "fingerprint_required"
    provider.record_fingerprint(product, 2)
    change = provider.create_registration("change", certificate=certificate, revision=2,
                                          reason="新增三月数据")
    assert api_error(lambda: provider.create_registration(
        "cancellation", certificate=certificate, reason="x")).code == "registration_pending"
    changed_number = through(operator, provider, exchange, change.id)
    changed = provider.certificate(changed_number)
    assert changed.file.certificate["fingerprint"]["root"] == \
        provider.fingerprint(product, 2).root
    assert changed.file.certificate["revision"]["number"] == 2
    assert public(server, certificate)["status"] == "superseded"
    # Transfer to the buyer; then the buyer cancels.
    transfer = file_reg(provider, "transfer", changed_number, counterparty_org_id=buyer_id)
    transferred_number = through(operator, provider, exchange, transfer)
    assert buyer.certificate(transferred_number).holder_org_id == buyer_id
    assert public(server, changed_number)["status"] == "transferred"
    assert api_error(lambda: provider.create_registration(
        "cancellation", certificate=transferred_number, reason="x")).code == \
        "not_certificate_holder"
    cancel = buyer.create_registration("cancellation", certificate=transferred_number)
    err = api_error(lambda: buyer.submit_registration(cancel.id))
    assert err.code == "incomplete_application" and err.details["missing"] == ["reason"]
    buyer.update_registration(cancel.id, reason="产品下架")
    through(operator, buyer, exchange, cancel.id)
    assert public(server, transferred_number)["status"] == "cancelled"
    assert api_error(lambda: buyer.register_pledge(transferred_number, licensee_id, 1,
                                                   TERM)).code == "certificate_not_in_effect"
    with exchange.read() as s:
        acts = [a for a in s.scalars(select(LedgerEvent.action).where(
            LedgerEvent.action.like("certificate.%")).order_by(LedgerEvent.seq))]
    assert acts == ["certificate.issued", "certificate.licensed", "certificate.issued",
                    "certificate.superseded", "certificate.issued", "certificate.transferred",
                    "certificate.cancelled"]


def test_a_licence_grants_only_rights_held(operator: Client, provider: Client, orgs: Orgs,
                                           product: str, exchange: Exchange) -> None:
    reg_id = draft(provider, product)
    provider.update_registration(reg_id, rights=["holding"])
    number = through(operator, provider, exchange, reg_id)
    other = orgs.new(["consumer"])
    err = api_error(lambda: provider.create_registration(
        "licence", certificate=number, counterparty_org_id=other.org_id,  # type: ignore
        licence_scope="x", rights=["operation"]))
    assert err.code == "rights_not_held" and err.details["held"] == ["holding"]
