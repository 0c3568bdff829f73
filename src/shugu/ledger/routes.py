"""REST endpoints of the ledger.

The ledger is a public transparency log of commitments. Anyone, without a token, reads the
platform key, signed tree heads, proofs and every event's public form (seq, time, action,
public subject, commitment, leaf hash): enough to check that the log never forks and that
an event is in it. An event's opening (actor, full subject, payload, salt) is served only
to its parties, the operator and auditors (`browse` decides); a party exports the openings
of its events as a bundle an auditor verifies offline or here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.utils import get_authorization_scheme_param

from shugu.api.deps import ExchangeDep, PrincipalDep, get_principal
from shugu.api.limits import Limit, PageToken, QueryText, Seq, TreeSize, TreeSizeRequired
from shugu.errors import InvalidInput, NotFound
from shugu.identity.principal import Principal
from shugu.ledger import browse, openings, proofs, schemas, tree_heads
from shugu.ledger.events import format_ts
from shugu.ledger.models import TreeHead
from shugu.pagination import Page, check_limit

router = APIRouter(prefix="/ledger", tags=["ledger"])

MAX_BUNDLE = 100  # openings per bundle page: each carries an O(log n) audit path
MAX_SEQ = 2**63 - 1  # the largest seq or size a BIGINT column holds


def optional_principal(request: Request) -> Principal | None:
    """No token: anonymous. A token that is there must be valid (401 otherwise).

    The header is read here rather than through the HTTPBearer dependency, which would mark
    the token as required in the OpenAPI document; OPTIONAL_TOKEN declares it optional."""
    scheme, token = get_authorization_scheme_param(request.headers.get("Authorization"))
    if not token:
        return None
    return get_principal(request, HTTPAuthorizationCredentials(scheme=scheme or "Bearer",
                                                               credentials=token))


ViewerDep = Annotated[Principal | None, Depends(optional_principal)]
# OpenAPI: the token is optional here (no requirement, or the bearer one).
OPTIONAL_TOKEN: dict[str, Any] = {"security": [{}, {"HTTPBearer": []}]}


def event_out(e: browse.Event) -> schemas.EventOut:
    o = e.opening
    opening = None if o is None else schemas.OpeningOut(
        actor=o.actor, subject=o.subject, payload=o.payload, payload_json=o.payload_json,
        salt=o.salt, payload_sha256=o.payload_sha256)
    return schemas.EventOut(seq=e.seq, ts=e.ts, action=e.action,  # type: ignore[arg-type]
                            subject=e.subject, version=e.version, commitment=e.commitment,
                            leaf_hash=e.leaf_hash, opening=opening)


@router.get("/tree-head", response_model=schemas.SignedTreeHead)
def tree_head(ex: ExchangeDep) -> schemas.SignedTreeHead:
    """The signed tree head for the ledger's current size (signed now if not yet).
    Anonymous."""
    return tree_heads.to_schema(tree_heads.current_signed(ex), ex.key)


@router.get("/public-key", response_model=schemas.PublicKey)
def public_key(ex: ExchangeDep) -> schemas.PublicKey:
    """The platform's Ed25519 key, which signs tree heads, certificates and vouchers.
    Anonymous; the same key as GET /public/platform-key."""
    return schemas.PublicKey(key_id=ex.key.key_id, public_key=ex.key.public_b64)


@router.get("/events", response_model=Page[schemas.EventOut], openapi_extra=OPTIONAL_TOKEN)
def list_events(
    ex: ExchangeDep, who: ViewerDep, action: QueryText = None, subject: QueryText = None,
    mine: bool = Query(default=False, description="only events your organisation is a "
                       "party to (needs a token)"),
    limit: Limit = None, page_token: PageToken = None,
) -> Page[schemas.EventOut]:
    """Events in sequence order, public form for all, with the opening where the caller
    may read it. The page token carries the next seq (keyset pagination)."""
    with ex.read() as s:
        items, next_token, total = browse.page(
            s, browse.Viewer.of(who), action=action, subject=subject, limit=limit,
            page_token=page_token, mine=mine)
    return Page[schemas.EventOut](items=[event_out(e) for e in items],
                                  next_page_token=next_token, total=total)


@router.get("/events/{seq}", response_model=schemas.EventOut, openapi_extra=OPTIONAL_TOKEN)
def get_event(seq: Seq, ex: ExchangeDep, who: ViewerDep) -> schemas.EventOut:
    with ex.read() as s:
        return event_out(browse.event(s, browse.Viewer.of(who), seq))


@router.get("/events/{seq}/opening", response_model=schemas.EventOut)
def get_opening(seq: Annotated[int, Path(ge=0, le=MAX_SEQ)], ex: ExchangeDep,
                who: PrincipalDep) -> schemas.EventOut:
    """One event with its opening: 403 `not_a_party` unless your organisation is a party
    to it (the operator and auditors read all)."""
    with ex.read() as s:
        return event_out(browse.opened(s, browse.Viewer.of(who), seq))


@router.get("/events/{seq}/inclusion", response_model=schemas.InclusionProof)
def inclusion(
    seq: Seq, ex: ExchangeDep,
    tree_size: TreeSize = None,
) -> schemas.InclusionProof:
    with ex.read() as s:
        size, leaf, path, root = proofs.inclusion_proof(s, seq, tree_size)
    return schemas.InclusionProof(seq=seq, tree_size=size, leaf_hash=leaf.hex(),
                                  audit_path=[h.hex() for h in path], root=root.hex())


@router.get("/consistency", response_model=schemas.ConsistencyProof)
def consistency(
    ex: ExchangeDep, first: TreeSizeRequired,
    second: TreeSize = None,
) -> schemas.ConsistencyProof:
    with ex.read() as s:
        second = proofs.current_size(s) if second is None else second
        first_root, second_root, proof = proofs.consistency_proof(s, first, second)
    return schemas.ConsistencyProof(first=first, second=second, first_root=first_root.hex(),
                                    second_root=second_root.hex(),
                                    proof=[h.hex() for h in proof])


@router.get("/openings", response_model=schemas.OpeningBundle)
def opening_bundle(
    ex: ExchangeDep, who: PrincipalDep, action: QueryText = None,
    subject: QueryText = None,
    tree_size: int | None = Query(default=None, ge=0, le=MAX_SEQ,
                                  description="a size with a signed tree head (default: the "
                                  "current one, signed now if needed); pass the first "
                                  "page's to get every page against it"),
    limit: int | None = Query(default=None, ge=1, le=MAX_BUNDLE,
                              description=f"at most {MAX_BUNDLE}"),
    page_token: PageToken = None,
) -> schemas.OpeningBundle:
    """The openings of your organisation's events (overseers: any), each with its public
    form and audit path to one signed tree head: hand it to an auditor, who checks it with
    `shugu ledger verify-openings` or POST /ledger/openings/verify."""
    limit = min(check_limit(limit), MAX_BUNDLE)
    if tree_size is None:
        sth = tree_heads.current_signed(ex)
    else:
        with ex.read() as s:
            found = s.get(TreeHead, tree_size)
        if found is None:
            raise NotFound(f"no signed tree head for size {tree_size}",
                           code="tree_head_not_found", tree_size=tree_size)
        sth = found
    viewer = browse.Viewer.of(who)
    items: list[schemas.OpeningItem] = []
    with ex.read() as s:
        events, next_token, _ = browse.page(s, viewer, action=action, subject=subject,
                                            limit=limit, page_token=page_token, mine=True)
        for e in events:
            if e.seq >= sth.size:  # not yet under this tree head
                next_token = None
                break
            assert e.opening is not None
            _, _, path, _ = proofs.inclusion_proof(s, e.seq, sth.size)
            items.append(schemas.OpeningItem(
                event=schemas.PublicEvent(**e.public()), opening=e.opening.as_dict(),
                audit_path=[h.hex() for h in path]))
    head = schemas.BundleTreeHead(size=sth.size, root=sth.root, timestamp=format_ts(sth.ts),
                                  signature=sth.signature, key_id=sth.key_id,
                                  public_key=ex.key.public_b64)
    return schemas.OpeningBundle(tree_head=head, items=items, next_page_token=next_token)


@router.post("/openings/verify", response_model=schemas.BundleVerdict)
def verify_openings(
    ex: ExchangeDep, bundle: Annotated[dict[str, Any], Body()],
) -> schemas.BundleVerdict:
    """Check an openings bundle against this platform's key (anonymous: it discloses
    nothing the bundle does not hold). The same checks as `shugu ledger verify-openings`."""
    if not isinstance(bundle, dict):
        raise InvalidInput("the bundle must be a JSON object", code="invalid_json")
    report = openings.verify_bundle(bundle, ex.key.public_b64)
    return schemas.BundleVerdict(ok=report.ok, checks=[
        schemas.CheckOut(name=c.name, ok=c.ok, detail=c.detail) for c in report.checks])
