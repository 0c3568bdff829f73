"""Concurrent transitions: one wins, the others get a 409, nothing is issued twice."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select

from shugu.client import Client, ShuguAPIError
from shugu.db import utcnow
from shugu.rights.models import Certificate, Pledge
from shugu.runtime import Exchange
from tests.conftest import LiveServer, Orgs
from tests.rights.conftest import draft, end_notice, to_notice


def race(calls: list[Callable[[], object]]) -> list[object]:
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except ShuguAPIError as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_issue_races_issue_and_pledge_races_transfer(
        operator: Client, provider: Client, orgs: Orgs, product: str, server: LiveServer,
        exchange: Exchange) -> None:
    reg_id = draft(provider, product)
    to_notice(operator, provider, reg_id)
    end_notice(exchange, reg_id)
    ops = [Client(server.url, operator.token) for _ in range(4)]
    results = race([lambda c=c: c.issue_registration(reg_id) for c in ops])
    errors = [r for r in results if isinstance(r, ShuguAPIError)]
    assert len(errors) == 3 and {e.code for e in errors} == {"invalid_transition"}
    with exchange.read() as s:
        assert s.scalar(select(func.count()).select_from(Certificate)) == 1
        number = s.scalar(select(Certificate.number))
    assert number is not None
    # A transfer being issued while the holder pledges: never both.
    buyer, bank = orgs.new(["consumer"]), orgs.new(["consumer"])
    transfer = provider.create_registration("transfer", certificate=number,
                                            counterparty_org_id=buyer.org_id)  # type: ignore
    provider.upload_document(transfer.id, b"contract", filename="c.txt")
    to_notice(operator, provider, transfer.id)
    end_notice(exchange, transfer.id)
    holder = Client(server.url, provider.token)
    results = race([
        lambda: ops[0].issue_registration(transfer.id),
        lambda: holder.register_pledge(number, bank.org_id, 100,  # type: ignore
                                       utcnow() + timedelta(days=30)),
    ])
    issued, pledged = (not isinstance(r, ShuguAPIError) for r in results)
    assert issued != pledged, results
    with exchange.read() as s:
        old = s.scalars(select(Certificate).where(Certificate.number == number)).one()
        active = s.scalar(select(func.count()).select_from(Pledge).where(
            Pledge.certificate_id == old.id, Pledge.status == "active"))
    assert (old.status, active) in (("transferred", 0), ("valid", 1))
    for c in [*ops, holder]:
        c.close()
