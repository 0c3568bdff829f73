"""REST endpoints of listing review: submit, show, queue, approve, reject, delist."""

from __future__ import annotations

from fastapi import APIRouter, status

from shugu.api.deps import ExchangeDep, PrincipalDep, ViewerDep
from shugu.api.limits import Id, Limit, PageToken, SearchText
from shugu.catalog.schemas import SampleOut
from shugu.pagination import Page
from shugu.review import sample, schemas, service

router = APIRouter(tags=["listing review"])


@router.post("/products/{slug}/listing", response_model=schemas.ListingOut,
             status_code=status.HTTP_201_CREATED)
def submit(slug: str, ex: ExchangeDep, who: PrincipalDep) -> schemas.ListingOut:
    """The provider submits a product for listing: the compliance scan and the quality report
    run on its tables at their committed versions (synchronously) and are recorded."""
    listing = service.submit(ex, who, slug)
    with ex.read() as s:
        return service.to_out(s, *service.get(s, listing.id), full=True)


@router.get("/products/{slug}/listing", response_model=schemas.ListingOut)
def show(slug: str, ex: ExchangeDep, who: ViewerDep) -> schemas.ListingOut:
    """A listed product's quality report is public; the whole review only for the provider
    and operators."""
    with ex.read() as s:
        return service.product_listing(s, who, slug)


@router.get("/products/{slug}/sample", response_model=SampleOut)
def product_sample(slug: str, ex: ExchangeDep, who: PrincipalDep) -> SampleOut:
    """Preview rows, when the provider offers them and the listing review found no personal
    information (403 sample_not_offered / sample_not_listed / sample_withheld_personal_data)."""
    with ex.read() as s:
        return sample.product_sample(s, who, ex.settings.tables_dir, slug)


@router.post("/products/{slug}/delist", response_model=schemas.ListingOut)
def delist(slug: str, body: schemas.DelistIn, ex: ExchangeDep,
           who: PrincipalDep) -> schemas.ListingOut:
    with ex.transaction() as s:
        service.delist(s, who, slug, body.reason)
        return service.product_listing(s, who, slug)


@router.get("/listings", response_model=Page[schemas.ListingOut])
def queue(ex: ExchangeDep, who: PrincipalDep, status: SearchText = "in_review",
          limit: Limit = None, page_token: PageToken = None) -> Page[schemas.ListingOut]:
    """Operators: listings by status (default: those waiting for a decision), oldest first."""
    with ex.read() as s:
        return service.queue(s, who, status, limit, page_token)


@router.post("/listings/{listing_id}/approve", response_model=schemas.ListingOut)
def approve(listing_id: Id, body: schemas.ApproveIn, ex: ExchangeDep,
            who: PrincipalDep) -> schemas.ListingOut:
    with ex.transaction() as s:
        listing = service.approve(s, who, listing_id, body)
        return service.to_out(s, *service.get(s, listing.id), full=True)


@router.post("/listings/{listing_id}/reject", response_model=schemas.ListingOut)
def reject(listing_id: Id, body: schemas.RejectIn, ex: ExchangeDep,
           who: PrincipalDep) -> schemas.ListingOut:
    with ex.transaction() as s:
        listing = service.reject(s, who, listing_id, body)
        return service.to_out(s, *service.get(s, listing.id), full=True)
