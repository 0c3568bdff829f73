"""How a trade's money is divided between provider, broker and platform."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from shugu.billing.money import BASIS_POINTS, share_of
from shugu.review import service as review


@dataclass(frozen=True)
class Split:
    provider_bp: int
    broker_bp: int
    platform_bp: int
    broker_org_id: int | None = None

    def amounts(self, total_fen: int) -> tuple[int, int, int]:
        """(provider, broker, platform) fen. Broker and platform shares are rounded down
        and the provider takes the remainder, so the three always add up to the total."""
        broker = share_of(total_fen, self.broker_bp)
        platform = share_of(total_fen, self.platform_bp)
        return total_fen - broker - platform, broker, platform


def for_product(session: Session, product_id: int, default_platform_bp: int) -> Split:
    """The split set on the product's listing; without one, the platform's default fee and
    the rest to the provider."""
    listed = review.decided_split(session, product_id)
    if listed is not None:
        return Split(provider_bp=listed.provider_bp, broker_bp=listed.broker_bp,
                     platform_bp=listed.platform_bp, broker_org_id=listed.broker_org_id)
    return Split(provider_bp=BASIS_POINTS - default_platform_bp, broker_bp=0,
                 platform_bp=default_platform_bp)
