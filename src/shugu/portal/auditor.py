"""Portal auditor pages, under /auditor, for overseers (the operator and auditor
organisations): the ledger explorer with in-page verification of an event's inclusion
proof, the certificate verifier and the voucher evidence verifier. Every read goes through
the domain's own functions; anyone else gets 404.

The API authenticates by bearer token, not by the portal's cookie, so the JSON the event
page's script needs (the signed tree head, the inclusion proof) is served here too, from
the same ledger functions the API uses, under /auditor/ledger/...json."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from shugu.api.deps import ExchangeDep
from shugu.billing import service as billing
from shugu.billing import voucher_check
from shugu.errors import InvalidInput, NotFound
from shugu.identity.principal import Principal
from shugu.ledger import browse, proofs, tree_heads
from shugu.ledger.events import format_ts
from shugu.ledger.models import TreeHead
from shugu.portal.pages import posted, render, signed_in
from shugu.rights import certfile, certificates
from shugu.rights import permissions as rights_perm
from shugu.runtime import Exchange

router = APIRouter()

PAGE = 50
MAX_PASTE = 1_000_000  # characters of pasted JSON


def _overseer(ex: ExchangeDep, request: Request) -> tuple[Principal, bool]:
    who = signed_in(ex, request)
    return who, who.is_overseer


def _overseer_page(ex: ExchangeDep, request: Request) -> Principal:
    """The signed-in operator or auditor; the 404 page for anyone else."""
    who, ok = _overseer(ex, request)
    if not ok:
        raise NotFound("the auditor pages are for auditors and the operator", code="not_found")
    return who


@router.get("/auditor")
def home(request: Request, ex: ExchangeDep) -> Response:
    who = _overseer_page(ex, request)
    return render(request, "auditor/home.html", who=who)


# -- ledger ---------------------------------------------------------------------------------

@router.get("/auditor/ledger")
def ledger_list(request: Request, ex: ExchangeDep, action: str = "", subject: str = "",
                page_token: str | None = None) -> Response:
    who = _overseer_page(ex, request)
    with ex.read() as s:
        # Overseers read every event's opening (browse decides; the page is theirs only).
        items, next_token, total = browse.page(s, browse.Viewer.of(who), action=action or None,
                                               subject=subject.strip() or None, limit=PAGE,
                                               page_token=page_token)
        actions = browse.actions(s)
    return render(request, "auditor/ledger.html", who=who, items=items, next_token=next_token,
                  total=total, action=action, subject=subject, actions=actions)


def _sth_json(ex: Exchange, sth: TreeHead) -> dict[str, Any]:
    out = tree_heads.to_schema(sth, ex.key).model_dump(mode="json")
    # The timestamp exactly as signed (UTC, six fractional digits), so that a script can
    # rebuild the signed message byte for byte (`shugu.ledger.events.sth_message`).
    out["timestamp"] = format_ts(sth.ts)
    return out


def _inclusion_json(ex: Exchange, seq: int, tree_size: int | None) -> dict[str, Any]:
    with ex.read() as s:
        size, leaf, path, root = proofs.inclusion_proof(s, seq, tree_size)
    return {"seq": seq, "tree_size": size, "leaf_hash": leaf.hex(),
            "audit_path": [h.hex() for h in path], "root": root.hex()}


@router.get("/auditor/ledger/tree-head.json")
def ledger_tree_head(request: Request, ex: ExchangeDep) -> Response:
    _, ok = _overseer(ex, request)
    if not ok:
        return JSONResponse({"error": {"code": "not_found"}}, 404)
    return JSONResponse(_sth_json(ex, tree_heads.current_signed(ex)))


@router.get("/auditor/ledger/{seq}/inclusion.json")
def ledger_inclusion(seq: int, request: Request, ex: ExchangeDep,
                     tree_size: int | None = None) -> Response:
    _, ok = _overseer(ex, request)
    if not ok:
        return JSONResponse({"error": {"code": "not_found"}}, 404)
    return JSONResponse(_inclusion_json(ex, seq, tree_size))


@router.get("/auditor/ledger/{seq}")
def ledger_event(seq: int, request: Request, ex: ExchangeDep) -> Response:
    who = _overseer_page(ex, request)
    with ex.read() as s:
        event = browse.opened(s, browse.Viewer.of(who), seq)
    assert event.opening is not None
    sth = tree_heads.current_signed(ex)
    # Shown without script too; the script fetches both again and checks them itself.
    proof = _inclusion_json(ex, seq, sth.size)
    o = event.opening
    if event.commitment is not None:
        leaf = {"action": event.action, "commitment": event.commitment, "seq": event.seq,
                "subject": event.subject, "ts": event.ts}
    else:
        leaf = {"action": event.action, "actor": o.actor, "payload_sha256": o.payload_sha256,
                "seq": event.seq, "subject": o.subject, "ts": event.ts}
    data = {"event": {**event.public(), "version": event.version,
                      "opening": {**o.as_dict(), "payload_sha256": o.payload_sha256}},
            "leaf_hash": event.leaf_hash,
            "tree_head_url": "/auditor/ledger/tree-head.json",
            "inclusion_url": f"/auditor/ledger/{seq}/inclusion.json"}
    return render(request, "auditor/event.html", who=who, event=event, opening=o,
                  payload=json.dumps(o.payload, ensure_ascii=False, indent=2),
                  sth=_sth_json(ex, sth), proof=proof, data=data, leaf=leaf,
                  key_id=ex.key.key_id, public_key=ex.key.public_b64)


# -- certificates ---------------------------------------------------------------------------

def _parse(text: str, what: str) -> Any:
    if len(text) > MAX_PASTE:
        raise InvalidInput(f"the {what} is larger than {MAX_PASTE} characters",
                           code="input_too_large")
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidInput(f"the {what} is not JSON", code="invalid_json") from None


def _certificate_page(request: Request, ex: Exchange, who: Principal, *, number: str = "",
                      text: str = "", status_code: int = 200) -> Response:
    lookup = None
    verdict = None
    unreadable = None
    file_status = None
    if number:
        with ex.read() as s:
            lookup = certificates.public_status(s, rights_perm.find_certificate(s, number))
    if text:
        doc = _parse(text, "certificate file")
        try:
            # Pinned to this platform's key: a file signed by any other key fails.
            verdict = certfile.verify(doc, trusted_key=ex.key.public_b64)
        except certfile.Unreadable as exc:
            unreadable = str(exc)
        if verdict is not None and verdict.number:
            with ex.read() as s:
                try:
                    file_status = certificates.public_status(
                        s, rights_perm.find_certificate(s, verdict.number))
                except NotFound:  # an unknown number is a finding, shown as such
                    file_status = None
    return render(request, "auditor/certificates.html", status_code, who=who, number=number,
                  text=text, lookup=lookup, verdict=verdict, unreadable=unreadable,
                  file_status=file_status, key_id=ex.key.key_id)


@router.get("/auditor/certificates")
def certificate_form(request: Request, ex: ExchangeDep, number: str = "") -> Response:
    who = _overseer_page(ex, request)
    return _certificate_page(request, ex, who, number=number.strip())


@router.post("/auditor/certificates")
async def certificate_verify(request: Request, ex: ExchangeDep) -> Response:
    who = _overseer_page(ex, request)
    form = await posted(request, who)
    text = form.get("file", "").strip()
    if not text:
        raise InvalidInput("paste the certificate file (JSON) or choose it", code="empty_input")
    return _certificate_page(request, ex, who, text=text)


# -- vouchers -------------------------------------------------------------------------------

@router.get("/auditor/vouchers")
def voucher_form(request: Request, ex: ExchangeDep) -> Response:
    who = _overseer_page(ex, request)
    return render(request, "auditor/vouchers.html", who=who, text="", report=None)


@router.post("/auditor/vouchers")
async def voucher_verify(request: Request, ex: ExchangeDep) -> Response:
    who = _overseer_page(ex, request)
    form = await posted(request, who)
    text = form.get("bundle", "").strip()
    if not text:
        raise InvalidInput("paste the voucher evidence bundle (JSON) or choose it",
                           code="empty_input")
    bundle = _parse(text, "evidence bundle")
    if not isinstance(bundle, dict):
        raise InvalidInput("the evidence bundle must be a JSON object", code="invalid_json")
    report = voucher_check.verify(bundle, ex.key.public_b64)
    return render(request, "auditor/vouchers.html", who=who, text=text, report=report)


@router.get("/auditor/vouchers/{number}/evidence.json")
def voucher_evidence(number: str, request: Request, ex: ExchangeDep) -> Response:
    who = _overseer_page(ex, request)
    bundle = billing.evidence(ex, who, number)
    return JSONResponse(jsonable_encoder(bundle), headers={
        "Content-Disposition": f'attachment; filename="{number}-evidence.json"'})
