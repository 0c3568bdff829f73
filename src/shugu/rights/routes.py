"""REST endpoints: fingerprints, registrations and objections, certificates, pledges, and
the unauthenticated certificate status and platform key."""

from __future__ import annotations

from fastapi import APIRouter, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse

from shugu.api.deps import ExchangeDep, PrincipalDep, ViewerDep
from shugu.api.limits import FileName, Id, Limit, Number, PageToken, QueryText
from shugu.api.openapi import binary
from shugu.catalog import uploads
from shugu.catalog.ingest.errors import StorageInconsistent
from shugu.catalog.permissions import visible_product
from shugu.errors import NotFound
from shugu.pagination import Page, check_limit, decode_token, next_token
from shugu.rights import (
    certificates,
    documents,
    fingerprints,
    html,
    notices,
    pledges,
    registrations,
    schemas,
)
from shugu.rights import fingerprint as fp
from shugu.rights import permissions as perm
from shugu.rights.models import ProofDocument

router = APIRouter(tags=["rights"])


# -- fingerprints (存证) --------------------------------------------------------------------

@router.post("/products/{slug}/revisions/{number}/fingerprint",
             response_model=schemas.FingerprintOut)
def record_fingerprint(slug: str, number: Number, ex: ExchangeDep,
                       who: PrincipalDep) -> schemas.FingerprintOut:
    """The provider fingerprints a revision (idempotent: a second call returns the first)."""
    with ex.read() as s:
        found, tables = fingerprints.plan(s, who, ex.settings.tables_dir, slug, number)
        if found is not None:
            return fingerprints.to_out(s, found)
    # Hashing reads every data file, so it runs outside any transaction.
    try:
        result = fp.compute(tables)
    except fp.FingerprintError as exc:
        raise StorageInconsistent(str(exc)) from exc
    with ex.transaction() as s:
        return fingerprints.to_out(s, fingerprints.record(s, who, slug, number, result))


@router.get("/products/{slug}/revisions/{number}/fingerprint",
            response_model=schemas.FingerprintOut)
def get_fingerprint(slug: str, number: Number, ex: ExchangeDep,
                    who: PrincipalDep) -> schemas.FingerprintOut:
    with ex.read() as s:
        return fingerprints.to_out(s, fingerprints.get(s, slug, number))


# -- registrations ------------------------------------------------------------------------

@router.post("/registrations", response_model=schemas.RegistrationOut,
             status_code=status.HTTP_201_CREATED)
def create_registration(body: schemas.RegistrationIn, ex: ExchangeDep,
                        who: PrincipalDep) -> schemas.RegistrationOut:
    with ex.transaction() as s:
        return registrations.to_out(s, registrations.create(s, who, body))


@router.get("/registrations", response_model=Page[schemas.RegistrationOut])
def list_registrations(ex: ExchangeDep, who: PrincipalDep, notices: bool = False,
                       status: QueryText = None, limit: Limit = None,
                       page_token: PageToken = None) -> Page[schemas.RegistrationOut]:
    """The caller's applications (the operator: all); with notices=true, every registration
    now in public notice (公示), open to objections."""
    limit, offset = check_limit(limit), decode_token(page_token)
    with ex.read() as s:
        rows = registrations.list_for(s, who, notices=notices, status=status, offset=offset,
                                      limit=limit)
        return Page[schemas.RegistrationOut](
            items=[registrations.to_out(s, r) for r in rows[:limit]],
            next_page_token=next_token(offset, limit, len(rows)))


@router.get("/registrations/{registration_id}", response_model=schemas.RegistrationOut)
def get_registration(registration_id: Id, ex: ExchangeDep,
                     who: PrincipalDep) -> schemas.RegistrationOut:
    with ex.read() as s:
        return registrations.to_out(s, perm.visible_registration(s, who, registration_id))


@router.patch("/registrations/{registration_id}", response_model=schemas.RegistrationOut)
def update_registration(registration_id: Id, body: schemas.RegistrationPatch,
                        ex: ExchangeDep, who: PrincipalDep) -> schemas.RegistrationOut:
    with ex.transaction() as s:
        return registrations.to_out(s, registrations.update(s, who, registration_id, body))


@router.post("/registrations/{registration_id}/documents", response_model=schemas.DocumentOut,
             status_code=status.HTTP_201_CREATED,
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/octet-stream": {"schema": {"type": "string",
                                                         "format": "binary"}}}}})
async def upload_document(registration_id: Id, request: Request, ex: ExchangeDep,
                          who: PrincipalDep, filename: FileName,
                          description: QueryText = None) -> schemas.DocumentOut:
    """A proof document as the body; stored under the data dir, its SHA-256 recorded."""
    with ex.read() as s:  # refuse before accepting the body from someone else
        reg = perm.applicant_registration(s, who, registration_id)
        registrations.expect_state(reg, registrations.EDITABLE, "given documents")
    declared = request.headers.get("content-length")
    path = await uploads.receive(request.stream(), ex.settings.uploads_dir,
                                 ex.settings.max_upload_bytes,
                                 int(declared) if declared and declared.isdigit() else None)
    try:
        sha, size = await run_in_threadpool(documents.store, ex.settings, path)
    finally:
        uploads.discard(path)
    content_type = request.headers.get("content-type") or "application/octet-stream"

    def _record() -> schemas.DocumentOut:
        with ex.transaction() as s:
            doc = registrations.add_document(
                s, who, registration_id, filename=filename[:300], description=description,
                content_type=content_type[:100], size=size, sha256=sha)
            return schemas.DocumentOut.model_validate(doc, from_attributes=True)

    return await run_in_threadpool(_record)


@router.get("/registrations/{registration_id}/documents/{document_id}",
            response_class=FileResponse,
            responses=binary("*/*", "The document, with the content type it was uploaded with"))
def download_document(registration_id: Id, document_id: Id, ex: ExchangeDep,
                      who: PrincipalDep) -> FileResponse:
    with ex.read() as s:
        reg = perm.private_registration(s, who, registration_id)
        doc = s.get(ProofDocument, document_id)
        if doc is None or doc.registration_id != reg.id:
            raise NotFound(f"document {document_id} does not exist", code="document_not_found")
    return FileResponse(documents.path_of(ex.settings, doc.sha256), filename=doc.filename,
                        media_type=doc.content_type)


@router.post("/registrations/{registration_id}/submit", response_model=schemas.RegistrationOut)
def submit(registration_id: Id, ex: ExchangeDep, who: PrincipalDep) -> schemas.RegistrationOut:
    with ex.transaction() as s:
        return registrations.to_out(s, registrations.submit(s, who, registration_id))


@router.post("/registrations/{registration_id}/withdraw",
             response_model=schemas.RegistrationOut)
def withdraw(registration_id: Id, ex: ExchangeDep,
             who: PrincipalDep) -> schemas.RegistrationOut:
    with ex.transaction() as s:
        return registrations.to_out(s, registrations.withdraw(s, who, registration_id))


@router.post("/registrations/{registration_id}/review", response_model=schemas.RegistrationOut)
def review(registration_id: Id, body: schemas.ReviewIn, ex: ExchangeDep,
           who: PrincipalDep) -> schemas.RegistrationOut:
    """Operator: approve (formal → substantive → public notice), reject or request changes."""
    with ex.transaction() as s:
        return registrations.to_out(s, registrations.review(
            s, who, registration_id, body, ex.settings.public_notice_seconds))


@router.post("/registrations/{registration_id}/issue", response_model=schemas.RegistrationOut)
def issue(registration_id: Id, ex: ExchangeDep, who: PrincipalDep) -> schemas.RegistrationOut:
    """Operator, after the notice ended with every objection resolved and none upheld."""
    with ex.transaction() as s:
        return registrations.to_out(s, registrations.issue(
            s, who, registration_id, key=ex.key,
            validity_days=ex.settings.certificate_validity_days))


@router.post("/registrations/{registration_id}/refuse", response_model=schemas.RegistrationOut)
def refuse(registration_id: Id, body: schemas.NoteIn, ex: ExchangeDep,
           who: PrincipalDep) -> schemas.RegistrationOut:
    with ex.transaction() as s:
        return registrations.to_out(s, registrations.refuse(s, who, registration_id,
                                                            body.note))


@router.post("/registrations/{registration_id}/objections", response_model=schemas.ObjectionOut,
             status_code=status.HTTP_201_CREATED)
def file_objection(registration_id: Id, body: schemas.ObjectionIn, ex: ExchangeDep,
                   who: PrincipalDep) -> schemas.ObjectionOut:
    with ex.transaction() as s:
        return registrations.objection_out(
            registrations.file_objection(s, who, registration_id, body.reason))


@router.get("/registrations/{registration_id}/objections",
            response_model=list[schemas.ObjectionOut])
def list_objections(registration_id: Id, ex: ExchangeDep,
                    who: PrincipalDep) -> list[schemas.ObjectionOut]:
    with ex.read() as s:
        reg = perm.visible_registration(s, who, registration_id)
        return [registrations.objection_out(o) for o in perm.visible_objections(s, who, reg)]


@router.post("/objections/{objection_id}/resolve", response_model=schemas.ObjectionOut)
def resolve_objection(objection_id: Id, body: schemas.ResolveIn, ex: ExchangeDep,
                      who: PrincipalDep) -> schemas.ObjectionOut:
    with ex.transaction() as s:
        return registrations.objection_out(
            registrations.resolve_objection(s, who, objection_id, body))


# -- certificates -------------------------------------------------------------------------

@router.get("/certificates", response_model=Page[schemas.CertificateOut])
def list_certificates(ex: ExchangeDep, who: PrincipalDep, limit: Limit = None,
                      page_token: PageToken = None) -> Page[schemas.CertificateOut]:
    """The caller's organisation's certificates (the operator: all)."""
    limit, offset = check_limit(limit), decode_token(page_token)
    with ex.read() as s:
        rows = certificates.list_for(s, None if who.is_operator else who.org_id, offset, limit)
        return Page[schemas.CertificateOut](
            items=[certificates.to_out(s, c) for c in rows[:limit]],
            next_page_token=next_token(offset, limit, len(rows)))


@router.get("/certificates/{number}.html", response_class=HTMLResponse)
def certificate_html(number: str, ex: ExchangeDep, who: PrincipalDep) -> HTMLResponse:
    with ex.read() as s:
        cert = perm.find_certificate(s, number)
        return HTMLResponse(html.render(certificates.file_of(cert),
                                        certificates.current_status(s, cert)))


@router.get("/certificates/{number}", response_model=schemas.CertificateOut)
def get_certificate(number: str, ex: ExchangeDep, who: PrincipalDep) -> schemas.CertificateOut:
    with ex.read() as s:
        return certificates.to_out(s, perm.find_certificate(s, number))


@router.get("/certificates/{number}/file", response_model=schemas.CertificateFile)
def certificate_file(number: str, ex: ExchangeDep,
                     who: PrincipalDep) -> schemas.CertificateFile:
    """The signed JSON file that `shugu cert verify` checks offline."""
    with ex.read() as s:
        return certificates.file_of(perm.find_certificate(s, number))


@router.get("/public/certificates/{number}", response_model=schemas.PublicStatus)
def public_certificate_status(number: str, ex: ExchangeDep) -> schemas.PublicStatus:
    """Anyone, without logging in: the certificate's current status and encumbrances."""
    with ex.read() as s:
        return certificates.public_status(s, perm.find_certificate(s, number))


@router.get("/products/{slug}/certificates", response_model=list[schemas.PublicStatus])
def product_certificates(slug: str, ex: ExchangeDep,
                         who: ViewerDep) -> list[schemas.PublicStatus]:
    """The public status of a visible product's certificates, newest first (a listed
    product's: no token needed)."""
    with ex.read() as s:
        product = visible_product(s, who, slug)
        return [certificates.public_status(s, c) for c in certificates.for_product(s, product.id)]


@router.get("/public/notices", response_model=Page[schemas.PublicNotice])
def public_notices(ex: ExchangeDep, limit: Limit = None,
                   page_token: PageToken = None) -> Page[schemas.PublicNotice]:
    """Anyone: registrations in public notice (公示) now, with the objection deadline.
    Filing an objection (POST /registrations/{id}/objections) needs an account."""
    with ex.read() as s:
        return notices.open_notices(s, limit, page_token)


@router.get("/public/notices/{registration_id}", response_model=schemas.PublicNotice)
def public_notice(registration_id: Id, ex: ExchangeDep) -> schemas.PublicNotice:
    with ex.read() as s:
        found = notices.open_notice(s, registration_id)
    if found is None:
        raise NotFound(f"registration {registration_id} is not in public notice",
                       code="notice_not_found")
    return found


@router.get("/public/platform-key", response_model=schemas.PlatformKeyOut)
def public_platform_key(ex: ExchangeDep) -> schemas.PlatformKeyOut:
    """The key certificates are signed with, for offline verification."""
    return schemas.PlatformKeyOut(key_id=ex.key.key_id, public_key=ex.key.public_b64)


# -- pledges (质押) -------------------------------------------------------------------------

@router.post("/certificates/{number}/pledges", response_model=schemas.PledgeOut,
             status_code=status.HTTP_201_CREATED)
def register_pledge(number: str, body: schemas.PledgeIn, ex: ExchangeDep,
                    who: PrincipalDep) -> schemas.PledgeOut:
    with ex.transaction() as s:
        return pledges.to_out(s, pledges.register(s, who, number, body))


@router.get("/pledges", response_model=list[schemas.PledgeOut])
def list_pledges(ex: ExchangeDep, who: PrincipalDep,
                 certificate: QueryText = None) -> list[schemas.PledgeOut]:
    """Pledges the caller's organisation gave or holds (the operator: all)."""
    with ex.read() as s:
        return [pledges.to_out(s, p) for p in pledges.list_for(s, who, certificate)]


@router.get("/pledges/{pledge_id}", response_model=schemas.PledgeOut)
def get_pledge(pledge_id: Id, ex: ExchangeDep, who: PrincipalDep) -> schemas.PledgeOut:
    with ex.read() as s:
        return pledges.to_out(s, perm.visible_pledge(s, who, pledge_id))


@router.post("/pledges/{pledge_id}/release", response_model=schemas.PledgeOut)
def release_pledge(pledge_id: Id, body: schemas.NoteIn, ex: ExchangeDep,
                   who: PrincipalDep) -> schemas.PledgeOut:
    with ex.transaction() as s:
        return pledges.to_out(s, pledges.release(s, who, pledge_id, body.note))


@router.post("/pledges/{pledge_id}/enforce", response_model=schemas.PledgeOut)
def enforce_pledge(pledge_id: Id, body: schemas.NoteIn, ex: ExchangeDep,
                   who: PrincipalDep) -> schemas.PledgeOut:
    with ex.transaction() as s:
        return pledges.to_out(s, pledges.enforce(s, who, pledge_id, body.note))
