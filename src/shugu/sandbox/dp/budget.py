"""The privacy budget of an entitlement: set by the provider, debited by every noisy release.

ε is kept as integer micro-epsilons. Amounts are converted through their decimal text, so
0.1 is exactly 100000 µε: a total is rounded down and a spend rounded up, so rounding can
only ever make the budget stricter. A spend is one conditional UPDATE (spent + ε ≤ total),
so concurrent releases, in any number of processes, can never together overspend.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from shugu.db import utcnow
from shugu.entitlements.models import Entitlement
from shugu.errors import Forbidden, InvalidInput, NotFound
from shugu.ledger import service as ledger
from shugu.sandbox.dp.mechanisms import check_epsilon
from shugu.sandbox.dp.models import MICRO, PrivacyBudget

SYSTEM_ACTOR = "system:sandbox"
REFRESH = ("daily", "monthly")
BEIJING = timezone(timedelta(hours=8))
# 10^9 ε is far beyond any meaningful budget and keeps micro-ε well inside BigInteger.
MAX_EPSILON = 10**9


def to_micro(epsilon: float | Decimal, rounding: str) -> int:
    eps = check_epsilon(epsilon)
    if eps > MAX_EPSILON:
        raise InvalidInput(f"epsilon must be at most {MAX_EPSILON}", code="invalid_epsilon")
    exact = epsilon if isinstance(epsilon, Decimal) else Decimal(repr(eps))
    return int((exact * MICRO).to_integral_value(rounding=rounding))


def to_epsilon(micro: int) -> float:
    return micro / MICRO


def _spent(b: PrivacyBudget) -> int:
    """What counts as spent now: nothing yet when a new period has begun (the next spend
    starts it in the database)."""
    start = period_start(b.refresh, utcnow())
    if start is not None and (b.period_start is None or b.period_start < start):
        return 0
    return b.spent_micro_epsilon


def _payload(b: PrivacyBudget) -> dict[str, object]:
    return {"entitlement_id": b.entitlement_id,
            "total_epsilon": to_epsilon(b.total_micro_epsilon),
            "spent_epsilon": to_epsilon(_spent(b)),
            "remaining_epsilon": to_epsilon(_remaining_micro(b)),
            "refresh": b.refresh,
            "period_start": b.period_start.isoformat() if b.period_start else None}


def period_start(refresh: str | None, now: datetime) -> datetime | None:
    """The start (UTC) of the day or month, in Beijing time, that `now` falls in."""
    if refresh is None:
        return None
    local = now.astimezone(BEIJING).replace(hour=0, minute=0, second=0, microsecond=0)
    if refresh == "monthly":
        local = local.replace(day=1)
    return local.astimezone(UTC)


def _roll(session: Session, entitlement_id: int, now: datetime | None = None) -> None:
    """Start a new period if the budget refreshes and one has begun: one conditional UPDATE,
    so concurrent releases agree on a single reset."""
    budget = get_budget(session, entitlement_id)
    if budget is None or budget.refresh is None:
        return
    start = period_start(budget.refresh, now or utcnow())
    assert start is not None
    row = session.execute(
        update(PrivacyBudget)
        .where(PrivacyBudget.entitlement_id == entitlement_id,
               (PrivacyBudget.period_start.is_(None)) | (PrivacyBudget.period_start < start))
        .values(spent_micro_epsilon=0, period_start=start, updated_at=utcnow())
        .returning(PrivacyBudget.id)
        .execution_options(synchronize_session=False)).one_or_none()
    session.refresh(budget)
    if row is not None:
        ledger.append(session, actor=SYSTEM_ACTOR, action="privacy_budget.refreshed",
                      subject=f"entitlement:{entitlement_id}", payload=_payload(budget))


def _parties(session: Session, entitlement_id: int) -> list[int]:
    """The entitlement's consumer: the ledger shows the budget's events to it."""
    e = session.get(Entitlement, entitlement_id)
    return [e.consumer_org_id] if e is not None else []


def _remaining_micro(b: PrivacyBudget) -> int:
    return max(0, b.total_micro_epsilon - _spent(b))


def get_budget(session: Session, entitlement_id: int) -> PrivacyBudget | None:
    return session.scalars(select(PrivacyBudget).where(
        PrivacyBudget.entitlement_id == entitlement_id)).one_or_none()


def set_budget(session: Session, entitlement_id: int, epsilon_total: float | Decimal, *,
               actor: str = SYSTEM_ACTOR, refresh: str | None = None) -> PrivacyBudget:
    """Set (or change) the total ε of an entitlement, and whether it refreshes daily or
    monthly. What was already spent stays spent: lowering the total below it leaves nothing
    to spend, raising it allows more."""
    if refresh is not None and refresh not in REFRESH:
        raise InvalidInput(f"refresh is one of {', '.join(REFRESH)} (or none)",
                           code="invalid_refresh")
    total = to_micro(epsilon_total, ROUND_FLOOR)
    if total < 1:
        raise InvalidInput("a privacy budget must be at least 0.000001", code="invalid_epsilon")
    if session.get(Entitlement, entitlement_id) is None:
        raise NotFound(f"entitlement {entitlement_id} does not exist",
                       code="entitlement_not_found")
    now = utcnow()
    # One upsert, so two concurrent first settings cannot collide on the unique key.
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    start = period_start(refresh, now)
    stmt = dialect.insert(PrivacyBudget).values(
        entitlement_id=entitlement_id, total_micro_epsilon=total, spent_micro_epsilon=0,
        refresh=refresh, period_start=start, created_at=now, updated_at=now)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[PrivacyBudget.entitlement_id],
        set_={"total_micro_epsilon": total, "refresh": refresh, "updated_at": now}))
    _roll(session, entitlement_id, now)
    budget = get_budget(session, entitlement_id)
    assert budget is not None
    session.refresh(budget)
    ledger.append(session, actor=actor, action="privacy_budget.set",
                  subject=f"entitlement:{entitlement_id}", payload=_payload(budget),
                  parties=_parties(session, entitlement_id))
    return budget


def _refusal(budget: PrivacyBudget | None, amount: int) -> Forbidden:
    if budget is None:
        return Forbidden("this entitlement has no privacy budget for noisy releases",
                         code="no_privacy_budget")
    left = to_epsilon(_remaining_micro(budget))
    return Forbidden(f"the privacy budget is exhausted: {left} ε left, {to_epsilon(amount)} ε "
                     "asked", code="privacy_budget_exhausted", remaining_epsilon=left,
                     requested_epsilon=to_epsilon(amount),
                     total_epsilon=to_epsilon(budget.total_micro_epsilon))


def require(session: Session, entitlement_id: int, epsilon: float | Decimal) -> None:
    """Refuse early (writing nothing) when a spend of ε would be refused now; `spend` in the
    releasing transaction still decides."""
    amount = to_micro(epsilon, ROUND_CEILING)
    budget = get_budget(session, entitlement_id)
    if budget is None or _spent(budget) + amount > budget.total_micro_epsilon:
        raise _refusal(budget, amount)


def spend(session: Session, entitlement_id: int, epsilon: float | Decimal, *,
          actor: str = SYSTEM_ACTOR, purpose: str | None = None) -> float:
    """Debit ε for one release and return the ε that remains. Call it in the transaction
    that authorises the release, before any noisy value leaves it."""
    amount = to_micro(epsilon, ROUND_CEILING)
    _roll(session, entitlement_id)
    row = session.execute(
        update(PrivacyBudget)
        .where(PrivacyBudget.entitlement_id == entitlement_id,
               PrivacyBudget.spent_micro_epsilon + amount <= PrivacyBudget.total_micro_epsilon)
        .values(spent_micro_epsilon=PrivacyBudget.spent_micro_epsilon + amount,
                updated_at=utcnow())
        .returning(PrivacyBudget.total_micro_epsilon, PrivacyBudget.spent_micro_epsilon)
        .execution_options(synchronize_session=False)).one_or_none()
    if row is None:
        budget = get_budget(session, entitlement_id)
        if budget is not None:
            session.refresh(budget)
        raise _refusal(budget, amount)
    total, spent = row
    left = to_epsilon(total - spent)
    ledger.append(session, actor=actor, action="privacy_budget.spent",
                  subject=f"entitlement:{entitlement_id}",
                  parties=_parties(session, entitlement_id),
                  payload={"entitlement_id": entitlement_id, "epsilon": to_epsilon(amount),
                           "spent_epsilon": to_epsilon(spent), "remaining_epsilon": left,
                           "purpose": purpose})
    return left


def remaining(session: Session, entitlement_id: int) -> float | None:
    """ε still available, or None when the entitlement has no budget (no noisy release)."""
    budget = get_budget(session, entitlement_id)
    if budget is None:
        return None
    session.refresh(budget)
    return to_epsilon(_remaining_micro(budget))


def summary(session: Session, entitlement_id: int) -> dict[str, object]:
    """Total, spent and remaining ε of an entitlement (total None: no budget set)."""
    budget = get_budget(session, entitlement_id)
    if budget is None:
        return {"entitlement_id": entitlement_id, "total_epsilon": None,
                "spent_epsilon": 0.0, "remaining_epsilon": 0.0}
    session.refresh(budget)
    return _payload(budget)
