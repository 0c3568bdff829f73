"""REST endpoints: offers, their policy evaluation, negotiations and agreements."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, status

from shugu.api.deps import ExchangeDep, PrincipalDep, ViewerDep
from shugu.api.limits import Id, Limit, PageToken, QueryText
from shugu.contracts import agreements, negotiation, offers, schemas
from shugu.pagination import Page

router = APIRouter(tags=["contracts"])
Role = Literal["consumer", "provider"]


@router.post("/products/{slug}/offers", response_model=schemas.OfferOut,
             status_code=status.HTTP_201_CREATED)
def create_offer(slug: str, body: schemas.OfferIn, ex: ExchangeDep,
                 who: PrincipalDep) -> schemas.OfferOut:
    """The provider puts a price plan and a usage policy on one of its products."""
    with ex.transaction() as s:
        return offers.to_out(s, offers.create(s, who, slug, body))


@router.get("/products/{slug}/offers", response_model=list[schemas.OfferOut])
def list_offers(slug: str, ex: ExchangeDep, who: ViewerDep) -> list[schemas.OfferOut]:
    """A listed product's public offers (no token needed), plus those private to the caller."""
    with ex.read() as s:
        return [offers.to_out(s, o) for o in offers.list_for_product(s, who, slug)]


@router.get("/offers/{offer_id}", response_model=schemas.OfferOut)
def get_offer(offer_id: Id, ex: ExchangeDep, who: ViewerDep) -> schemas.OfferOut:
    with ex.read() as s:
        return offers.to_out(s, offers.get(s, who, offer_id))


@router.post("/offers/{offer_id}/withdraw", response_model=schemas.OfferOut)
def withdraw_offer(offer_id: Id, ex: ExchangeDep, who: PrincipalDep) -> schemas.OfferOut:
    with ex.transaction() as s:
        return offers.to_out(s, offers.withdraw(s, who, offer_id))


@router.post("/offers/{offer_id}/evaluate", response_model=schemas.Decision)
def evaluate_offer(offer_id: Id, body: schemas.EvaluateIn, ex: ExchangeDep,
                   who: PrincipalDep) -> schemas.Decision:
    """Would the offer's policy let the caller's organisation, with this purpose, accept?
    Every rule's outcome and reason."""
    with ex.read() as s:
        return offers.evaluate(s, who, offer_id, body)


@router.post("/negotiations", response_model=schemas.NegotiationOut,
             status_code=status.HTTP_201_CREATED)
def request_offer(body: schemas.NegotiationIn, ex: ExchangeDep,
                  who: PrincipalDep) -> schemas.NegotiationOut:
    """The consumer requests an offer (as it stands or with counter-terms)."""
    with ex.transaction() as s:
        return negotiation.to_out(s, negotiation.request(s, who, body))


@router.get("/negotiations", response_model=Page[schemas.NegotiationOut])
def list_negotiations(ex: ExchangeDep, who: PrincipalDep, role: Role = "consumer",
                      state: QueryText = None, limit: Limit = None,
                      page_token: PageToken = None) -> Page[schemas.NegotiationOut]:
    with ex.read() as s:
        return negotiation.list_for(s, who, role, state, limit, page_token)


@router.get("/negotiations/{negotiation_id}", response_model=schemas.NegotiationOut)
def get_negotiation(negotiation_id: Id, ex: ExchangeDep,
                    who: PrincipalDep) -> schemas.NegotiationOut:
    with ex.read() as s:
        return negotiation.to_out(s, negotiation.get(s, who, negotiation_id))


@router.post("/negotiations/{negotiation_id}/offer", response_model=schemas.NegotiationOut)
def counter_offer(negotiation_id: Id, body: schemas.CounterIn, ex: ExchangeDep,
                  who: PrincipalDep) -> schemas.NegotiationOut:
    """Provider: counter-offer (REQUESTED -> OFFERED)."""
    with ex.transaction() as s:
        return negotiation.to_out(s, negotiation.counter(s, who, negotiation_id, "offer", body))


@router.post("/negotiations/{negotiation_id}/request", response_model=schemas.NegotiationOut)
def counter_request(negotiation_id: Id, body: schemas.CounterIn, ex: ExchangeDep,
                    who: PrincipalDep) -> schemas.NegotiationOut:
    """Consumer: counter-request (OFFERED -> REQUESTED)."""
    with ex.transaction() as s:
        return negotiation.to_out(s, negotiation.counter(s, who, negotiation_id, "request",
                                                         body))


def _reply_route(message: str, doc: str) -> None:
    def handler(negotiation_id: Id, body: schemas.MessageIn, ex: ExchangeDep,
                who: PrincipalDep) -> schemas.NegotiationOut:
        with ex.transaction() as s:
            return negotiation.to_out(
                s, negotiation.reply(s, who, negotiation_id, message, body.note))

    handler.__name__ = f"negotiation_{message}"
    handler.__doc__ = doc
    router.add_api_route(f"/negotiations/{{negotiation_id}}/{message}", handler,
                         methods=["POST"], response_model=schemas.NegotiationOut)


_reply_route("accept", "Consumer: accept the provider's offer (OFFERED -> ACCEPTED).")
_reply_route("agree", "Provider: agree (REQUESTED or ACCEPTED -> AGREED).")
_reply_route("verify", "Consumer: verify the agreement (AGREED -> VERIFIED).")
_reply_route("finalize", "Provider: finalize (VERIFIED -> FINALIZED); concludes the "
             "agreement and creates its entitlement.")


@router.post("/negotiations/{negotiation_id}/terminate", response_model=schemas.NegotiationOut)
def terminate_negotiation(negotiation_id: Id, body: schemas.TerminateIn, ex: ExchangeDep,
                          who: PrincipalDep) -> schemas.NegotiationOut:
    with ex.transaction() as s:
        return negotiation.to_out(s, negotiation.terminate(s, who, negotiation_id,
                                                           body.reason))


@router.get("/agreements", response_model=Page[schemas.AgreementOut])
def list_agreements(ex: ExchangeDep, who: PrincipalDep,
                    role: Literal["consumer", "provider", "all"] = "consumer",
                    limit: Limit = None,
                    page_token: PageToken = None) -> Page[schemas.AgreementOut]:
    """Agreements of the caller's side; `role=all`: every agreement (operators, auditors)."""
    with ex.read() as s:
        return agreements.list_for(s, who, role, limit, page_token)


@router.get("/agreements/{agreement_id}", response_model=schemas.AgreementOut)
def get_agreement(agreement_id: Id, ex: ExchangeDep, who: PrincipalDep) -> schemas.AgreementOut:
    with ex.read() as s:
        return agreements.to_out(s, agreements.get(s, who, agreement_id))


@router.post("/agreements/{agreement_id}/terminate", response_model=schemas.AgreementOut)
def terminate_agreement(agreement_id: Id, body: schemas.TerminateIn, ex: ExchangeDep,
                        who: PrincipalDep) -> schemas.AgreementOut:
    """Either party ends the agreement; its entitlement is revoked at once."""
    with ex.transaction() as s:
        return agreements.to_out(s, agreements.terminate(s, who, agreement_id, body.reason))


@router.post("/agreements/{agreement_id}/confirm-deletion",
             response_model=schemas.AgreementOut)
def confirm_deletion(agreement_id: Id, ex: ExchangeDep,
                     who: PrincipalDep) -> schemas.AgreementOut:
    """Consumer: the data has been deleted, as the delete duty requires once it is due."""
    with ex.transaction() as s:
        return agreements.to_out(s, agreements.confirm_deletion(s, who, agreement_id))
