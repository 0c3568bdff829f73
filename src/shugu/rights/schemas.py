"""API shapes of fingerprints, registrations, objections, certificates and pledges."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from shugu.api.limits import NAME_MAX, IdRef, NumberRef
from shugu.contracts.money import MAX_FEN

Right = Literal["holding", "processing_use", "operation"]
Kind = Literal["initial", "licence", "transfer", "change", "cancellation"]
SourceKind = Literal["self_collected", "acquired"]


class FileOut(BaseModel):
    table: str
    path: str
    size: int
    sha256: str


class FingerprintOut(BaseModel):
    product: str
    revision: int
    algorithm: str
    root: str
    table_versions: dict[str, int]
    file_count: int
    total_bytes: int
    files: list[FileOut]
    ledger_seq: int
    created_at: datetime


class RegistrationIn(BaseModel):
    kind: Kind = "initial"
    product: str | None = Field(default=None, max_length=NAME_MAX,
                                description="product slug (initial)")
    revision: NumberRef | None = Field(default=None,
                                       description="revision number (initial, change)")
    certificate: str | None = Field(
        default=None, max_length=NAME_MAX,
        description="certificate number (licence, transfer, change, cancellation)")
    data_name: str | None = Field(default=None, max_length=300)
    rights: list[Right] = Field(default_factory=list)
    source_kind: SourceKind | None = None
    source_description: str | None = Field(default=None, max_length=20000)
    algorithm_rules: str | None = Field(default=None, max_length=20000)
    scenario: str | None = Field(default=None, max_length=20000)
    update_period: str | None = Field(default=None, max_length=50)
    counterparty_org_id: IdRef | None = Field(
        default=None, description="transfer: the new holder; licence: the licensee")
    licence_scope: str | None = Field(default=None, max_length=20000)
    licence_until: AwareDatetime | None = None
    pledge_id: IdRef | None = Field(
        default=None, description="transfer by a pledgee: the enforced pledge")
    reason: str | None = Field(default=None, max_length=20000)


class RegistrationPatch(BaseModel):
    """Fields an applicant may change while the application is a draft or sent back."""

    data_name: str | None = Field(default=None, max_length=300)
    revision: NumberRef | None = None
    rights: list[Right] | None = None
    source_kind: SourceKind | None = None
    source_description: str | None = Field(default=None, max_length=20000)
    algorithm_rules: str | None = Field(default=None, max_length=20000)
    scenario: str | None = Field(default=None, max_length=20000)
    update_period: str | None = Field(default=None, max_length=50)
    licence_scope: str | None = Field(default=None, max_length=20000)
    licence_until: AwareDatetime | None = None
    reason: str | None = Field(default=None, max_length=20000)


class DocumentOut(BaseModel):
    id: int
    filename: str
    description: str | None
    content_type: str
    size: int
    sha256: str
    created_at: datetime


class RightOut(BaseModel):
    code: str
    zh: str
    en: str


class RegistrationOut(BaseModel):
    id: int
    kind: str
    status: str
    applicant_org_id: int
    product: str
    revision: int | None
    fingerprint_root: str | None
    certificate: str | None
    data_name: str
    rights: list[RightOut]
    source_kind: str | None
    source_description: str | None
    algorithm_rules: str | None
    scenario: str | None
    update_period: str | None
    counterparty_org_id: int | None
    licence_scope: str | None
    licence_until: datetime | None
    pledge_id: int | None
    reason: str | None
    review_note: str | None
    submissions: int
    notice_start: datetime | None
    notice_end: datetime | None
    issued_certificate: str | None
    documents: list[DocumentOut]
    created_at: datetime
    updated_at: datetime
    decided_at: datetime | None


class ReviewIn(BaseModel):
    decision: Literal["approve", "reject", "request_changes"]
    note: str | None = Field(default=None, max_length=20000)


class NoteIn(BaseModel):
    note: str | None = Field(default=None, max_length=20000)


class ObjectionIn(BaseModel):
    reason: str = Field(min_length=1, max_length=20000)


class ResolveIn(BaseModel):
    decision: Literal["upheld", "dismissed"]
    note: str | None = Field(default=None, max_length=20000)


class ObjectionOut(BaseModel):
    id: int
    registration_id: int
    org_id: int
    reason: str
    status: str
    resolution_note: str | None
    created_at: datetime
    resolved_at: datetime | None


class Signature(BaseModel):
    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: str
    public_key: str
    value: str


class CertificateFile(BaseModel):
    """The downloadable certificate: `signature.value` signs canonical JSON of `certificate`."""

    format: str = "shugu-certificate/1"
    certificate: dict[str, Any]
    signature: Signature


class Encumbrance(BaseModel):
    pledge_id: int
    pledgee: str
    pledgee_org_id: int
    amount_fen: int
    term_start: datetime
    term_end: datetime
    registered_at: datetime


class LicenceOut(BaseModel):
    id: int
    licensee_org_id: int
    licensee: str
    scope: str
    valid_until: datetime | None
    registration_id: int
    created_at: datetime


class CertificateOut(BaseModel):
    number: str
    status: str
    holder_org_id: int
    product: str
    issued_at: datetime
    valid_until: datetime
    ended_at: datetime | None
    successor: str | None
    encumbrances: list[Encumbrance]
    licences: list[LicenceOut]
    file: CertificateFile


class PublicStatus(BaseModel):
    """What anyone may learn about a certificate, without logging in."""

    number: str
    status: Literal["valid", "pledged", "transferred", "superseded", "cancelled", "expired"]
    holder: str
    holder_uscc: str
    product: str
    rights: list[str]
    fingerprint_root: str
    issued_at: datetime
    valid_until: datetime
    ended_at: datetime | None
    successor: str | None
    encumbrances: list[Encumbrance]
    checked_at: datetime


class PublicNotice(BaseModel):
    """What a public notice (公示) publishes about a registration, to anyone."""

    id: int
    kind: str
    data_name: str
    applicant: str
    applicant_uscc: str
    product: str | None = Field(description="the product's slug, when it is listed")
    product_title: str | None
    rights: list[RightOut]
    source_kind: str | None
    source_description: str | None
    algorithm_rules: str | None
    scenario: str | None
    update_period: str | None
    fingerprint_root: str | None
    certificate: str | None = Field(description="the certificate acted on (not initial)")
    notice_start: datetime
    objection_deadline: datetime = Field(
        description="end of the notice: objections are accepted until then")


class PlatformKeyOut(BaseModel):
    key_id: str
    public_key: str
    algorithm: str = "Ed25519"


class PledgeIn(BaseModel):
    pledgee_org_id: IdRef
    amount_fen: int = Field(gt=0, le=MAX_FEN, description="secured amount in fen (分)")
    term_start: AwareDatetime | None = Field(default=None, description="default: now")
    term_end: AwareDatetime
    note: str | None = Field(default=None, max_length=20000)


class PledgeOut(BaseModel):
    id: int
    certificate: str
    pledgor_org_id: int
    pledgee_org_id: int
    amount_fen: int
    term_start: datetime
    term_end: datetime
    status: str
    note: str | None
    created_at: datetime
    ended_at: datetime | None
    end_note: str | None
