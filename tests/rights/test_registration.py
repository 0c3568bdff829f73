"""The registration state machine over the real API: every transition, legal and illegal."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select

from shugu.client import Client
from shugu.config import Settings
from shugu.ledger.models import LedgerEvent
from shugu.runtime import Exchange
from tests.conftest import Orgs
from tests.rights.conftest import (
    INITIAL,
    api_error,
    draft,
    end_notice,
    make_product,
)


def actions(exchange: Exchange, subject: str) -> list[str]:
    with exchange.read() as s:
        return list(s.scalars(select(LedgerEvent.action).where(
            LedgerEvent.subject == subject).order_by(LedgerEvent.seq)))


def test_initial_registration_from_draft_to_certificate(
        operator: Client, provider: Client, orgs: Orgs, product: str, exchange: Exchange,
        settings: Settings) -> None:
    assert api_error(lambda: provider.create_registration(
        "initial", product=product, revision=1, **INITIAL)).code == "fingerprint_required"
    reg_id = draft(provider, product)
    reg = provider.registration(reg_id)
    assert reg.status == "draft" and reg.kind == "initial" and reg.revision == 1
    assert reg.fingerprint_root == provider.fingerprint(product, 1).root
    assert [r.zh for r in reg.rights] == ["数据资源持有权", "数据加工使用权", "数据产品经营权"]
    assert reg.documents[0].sha256 == hashlib.sha256("采集说明".encode()).hexdigest()
    assert provider.download_document(reg_id, reg.documents[0].id) == "采集说明".encode()
    # Drafts are the applicant's alone.
    stranger = orgs.new(["consumer"])
    assert api_error(lambda: stranger.registration(reg_id)).code == "registration_not_found"
    assert api_error(lambda: stranger.download_document(reg_id, reg.documents[0].id)).status \
        == 404
    assert stranger.registrations().items == []
    assert [r.id for r in provider.registrations().items] == [reg_id]
    # ... the operator included, until it is submitted.
    assert operator.registrations().items == []
    assert api_error(lambda: operator.registration(reg_id)).status == 404
    # The operator cannot review a draft; the applicant cannot review at all.
    assert api_error(lambda: operator.review_registration(reg_id, "approve")).code == \
        "registration_not_found"
    assert api_error(lambda: operator.issue_registration(reg_id)).status == 404
    provider.update_registration(reg_id, scenario="信贷风控与绿色金融")
    assert provider.submit_registration(reg_id).status == "formal_review"
    assert api_error(lambda: operator.issue_registration(reg_id)).code == "invalid_transition"
    assert api_error(lambda: operator.refuse_registration(reg_id, "x")).code == \
        "invalid_transition"
    assert [r.id for r in operator.registrations().items] == [reg_id]
    assert operator.download_document(reg_id, reg.documents[0].id) == "采集说明".encode()
    assert api_error(lambda: provider.review_registration(reg_id, "approve")).code == \
        "operator_required"
    assert api_error(lambda: stranger.review_registration(reg_id, "approve")).status == 404
    assert api_error(lambda: provider.submit_registration(reg_id)).code == "invalid_transition"
    assert api_error(lambda: provider.update_registration(reg_id, scenario="x")).code == \
        "invalid_transition"
    assert api_error(lambda: provider.upload_document(reg_id, b"x")).code == \
        "invalid_transition"
    assert operator.review_registration(reg_id, "approve").status == "substantive_review"
    noticed = operator.review_registration(reg_id, "approve", "材料齐全")
    assert noticed.status == "public_notice"
    assert noticed.notice_end is not None and noticed.notice_start is not None
    assert noticed.notice_end - noticed.notice_start == timedelta(
        seconds=settings.public_notice_seconds)
    # In notice everyone sees it (without the documents' contents) and may object.
    assert stranger.registration(reg_id).status == "public_notice"
    assert [r.id for r in stranger.registrations(notices=True).items] == [reg_id]
    assert api_error(lambda: stranger.download_document(reg_id, reg.documents[0].id)).status \
        == 404
    assert api_error(lambda: operator.issue_registration(reg_id)).code == "notice_not_ended"
    assert api_error(lambda: operator.review_registration(reg_id, "approve")).code == \
        "invalid_transition"
    assert api_error(lambda: stranger.issue_registration(reg_id)).code == "operator_required"
    end_notice(exchange, reg_id)
    assert stranger.registrations(notices=True).items == []
    issued = operator.issue_registration(reg_id)
    assert issued.status == "issued" and issued.issued_certificate is not None
    assert issued.issued_certificate.startswith("SG-DIP-")
    assert api_error(lambda: operator.issue_registration(reg_id)).code == "invalid_transition"
    assert api_error(lambda: operator.refuse_registration(reg_id, "x")).code == \
        "invalid_transition"
    assert api_error(lambda: provider.withdraw_registration(reg_id)).code == \
        "invalid_transition"
    assert actions(exchange, f"registration:{reg_id}") == [
        "registration.created", "registration.document_added", "registration.updated",
        "registration.submitted", "registration.formal_review_passed",
        "registration.approved", "registration.issued"]
    assert actions(exchange, f"certificate:{issued.issued_certificate}") == [
        "certificate.issued"]


def test_changes_requested_resubmitted_rejected_withdrawn(
        operator: Client, provider: Client, product: str, exchange: Exchange) -> None:
    provider.record_fingerprint(product, 1)
    bare = provider.create_registration("initial", product=product, revision=1)
    err = api_error(lambda: provider.submit_registration(bare.id))
    assert err.code == "incomplete_application" and "documents" in err.details["missing"]
    assert "rights" in err.details["missing"]
    assert api_error(lambda: provider.create_registration("initial", revision=1)).code == \
        "missing_field"
    reg_id = draft(provider, product)
    provider.submit_registration(reg_id)
    assert api_error(lambda: operator.review_registration(reg_id, "request_changes")).code \
        == "note_required"
    sent_back = operator.review_registration(reg_id, "request_changes", "补充采集合同")
    assert sent_back.status == "changes_requested" and sent_back.review_note == "补充采集合同"
    provider.upload_document(reg_id, b"contract", filename="contract.pdf")
    again = provider.submit_registration(reg_id)
    assert again.status == "formal_review" and again.submissions == 2
    operator.review_registration(reg_id, "approve")
    assert operator.review_registration(reg_id, "reject", "来源证明不足").status == "rejected"
    assert api_error(lambda: provider.submit_registration(reg_id)).code == "invalid_transition"
    # Rejected at the formal stage, too; and an applicant may withdraw before a decision.
    other = draft(provider, product)
    provider.submit_registration(other)
    assert operator.review_registration(other, "reject", "格式不符").status == "rejected"
    third = draft(provider, product)
    assert provider.withdraw_registration(third).status == "withdrawn"
    assert api_error(lambda: provider.submit_registration(third)).code == "invalid_transition"
    assert actions(exchange, f"registration:{reg_id}")[-5:] == [
        "registration.changes_requested", "registration.document_added",
        "registration.resubmitted", "registration.formal_review_passed",
        "registration.rejected"]
    assert "registration.withdrawn" in actions(exchange, f"registration:{third}")


def test_objections_during_the_notice(operator: Client, provider: Client, orgs: Orgs,
                                      product: str, exchange: Exchange) -> None:
    rival, other = orgs.new(["provider"]), orgs.new(["consumer"])
    reg_id = draft(provider, product)
    # No objection before the notice.
    assert api_error(lambda: rival.file_objection(reg_id, "x")).status == 404
    provider.submit_registration(reg_id)
    assert api_error(lambda: rival.file_objection(reg_id, "x")).status == 404
    to_notice_rest = [operator.review_registration(reg_id, "approve") for _ in range(2)]
    assert to_notice_rest[-1].status == "public_notice"
    assert api_error(lambda: provider.file_objection(reg_id, "mine")).code == "own_registration"
    upheld = rival.file_objection(reg_id, "该数据由我方采集")
    dismissed = other.file_objection(reg_id, "疑似包含个人信息")
    assert upheld.status == "open"
    # Each objector sees its own; the applicant and the operator see all.
    assert [o.id for o in rival.objections(reg_id)] == [upheld.id]
    assert {o.id for o in provider.objections(reg_id)} == {upheld.id, dismissed.id}
    assert len(operator.objections(reg_id)) == 2
    assert api_error(lambda: rival.resolve_objection(upheld.id, "dismissed")).code == \
        "operator_required"
    assert api_error(lambda: orgs.new(["consumer"]).resolve_objection(upheld.id,
                                                                      "dismissed")).status \
        == 404
    end_notice(exchange, reg_id)
    assert api_error(lambda: rival.file_objection(reg_id, "late")).code == "notice_ended"
    assert api_error(lambda: operator.issue_registration(reg_id)).code == \
        "objections_unresolved"
    assert operator.resolve_objection(dismissed.id, "dismissed", "已脱敏").status == "dismissed"
    assert api_error(lambda: operator.resolve_objection(dismissed.id, "upheld")).code == \
        "objection_resolved"
    assert operator.resolve_objection(upheld.id, "upheld", "来源存疑").status == "upheld"
    assert api_error(lambda: operator.issue_registration(reg_id)).code == "objection_upheld"
    assert api_error(lambda: operator.refuse_registration(reg_id, "")).code == "note_required"
    refused = operator.refuse_registration(reg_id, "异议成立")
    assert refused.status == "refused" and refused.issued_certificate is None
    assert api_error(lambda: operator.issue_registration(reg_id)).code == "invalid_transition"
    assert api_error(lambda: operator.resolve_objection(upheld.id, "dismissed")).code in (
        "invalid_transition", "objection_resolved")
    subjects = [f"registration:{reg_id}/objection:{i}" for i in (upheld.id, dismissed.id)]
    assert actions(exchange, subjects[0]) == ["objection.filed", "objection.upheld"]
    assert actions(exchange, subjects[1]) == ["objection.filed", "objection.dismissed"]
    assert actions(exchange, f"registration:{reg_id}")[-1] == "registration.refused"


def test_only_the_provider_registers_its_product(
        operator: Client, provider: Client, orgs: Orgs, product: str,
        exchange: Exchange) -> None:
    provider.record_fingerprint(product, 1)
    rival = orgs.new(["provider"])
    assert api_error(lambda: rival.create_registration(
        "initial", product=product, revision=1, **INITIAL)).code == "not_product_owner"
    assert api_error(lambda: provider.create_registration(
        "initial", product=product, revision=7, **INITIAL)).code == "revision_not_found"
    reg_id = draft(provider, product)
    assert api_error(lambda: rival.update_registration(reg_id, scenario="x")).status == 404
    assert api_error(lambda: rival.submit_registration(reg_id)).status == 404
    assert api_error(lambda: rival.withdraw_registration(reg_id)).status == 404
    assert api_error(lambda: rival.upload_document(reg_id, b"x")).status == 404
    assert api_error(lambda: operator.submit_registration(reg_id)).status == 404
    provider.submit_registration(reg_id)
    assert api_error(lambda: operator.withdraw_registration(reg_id)).code == "not_applicant"
    operator.review_registration(reg_id, "approve")
    operator.review_registration(reg_id, "approve")
    end_notice(exchange, reg_id)
    number = operator.issue_registration(reg_id).issued_certificate
    # Once public, others see it but still cannot act as the applicant.
    assert rival.registration(reg_id).issued_certificate == number
    assert api_error(lambda: rival.withdraw_registration(reg_id)).code == "not_applicant"
    # Another product of another provider stays independent.
    make_product(rival, "rival-data")
    assert api_error(lambda: provider.record_fingerprint("rival-data", 1)).code == \
        "not_product_owner"


def test_one_initial_registration_per_product(operator: Client, provider: Client,
                                              product: str, exchange: Exchange) -> None:
    first = draft(provider, product)
    second = draft(provider, product)
    provider.submit_registration(first)
    err = api_error(lambda: provider.submit_registration(second))
    assert err.code == "registration_pending" and err.details["registration_id"] == first
    operator.review_registration(first, "approve")
    operator.review_registration(first, "approve")
    end_notice(exchange, first)
    number = operator.issue_registration(first).issued_certificate
    err = api_error(lambda: provider.submit_registration(second))
    assert err.code == "already_registered" and err.details["certificate"] == number
