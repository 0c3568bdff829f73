"""Every query and every byte served is metered against the entitlement and the ledger."""

from __future__ import annotations

from pathlib import Path

import delta_sharing
import httpx
import pytest
from requests import HTTPError
from sqlalchemy import select

from shugu.client import Client
from shugu.entitlements.models import Entitlement
from shugu.ledger.models import LedgerEvent
from shugu.metering.models import UsageRecord
from shugu.runtime import Exchange
from tests.conftest import LiveServer, Orgs
from tests.sharing.conftest import SLUG, Shared, write_profile
from tests.sharing.test_files import files_of


def usage(exchange: Exchange, kind: str) -> list[UsageRecord]:
    with exchange.read() as s:
        return list(s.scalars(select(UsageRecord).where(UsageRecord.kind == kind)
                              .order_by(UsageRecord.id)))


def test_queries_and_bytes_are_metered(shared: Shared, exchange: Exchange) -> None:
    delta_sharing.load_as_pandas(shared.url("load"))
    queries = usage(exchange, "share.query")
    assert [(u.entitlement_id, u.quantity) for u in queries] == [(shared.entitlement_id, 1)]
    assert queries[0].detail["version"] == 0
    served = sum(u.quantity for u in usage(exchange, "share.bytes"))
    size = sum(f.size for f in files_of(shared))
    assert served >= size  # ranged reads may overlap; every byte sent is counted
    with exchange.read() as s:
        events = s.scalars(select(LedgerEvent).where(LedgerEvent.action == "share.query")).all()
        e = s.get(Entitlement, shared.entitlement_id)
        assert e is not None
        assert (e.used_queries, e.used_bytes) == (2, served)  # files_of made a second query
    assert [ev.subject for ev in events] == [f"product:{SLUG}/table:load"] * 2


def test_quotas_refuse_queries_and_bytes(provider: Client, orgs: Orgs, server: LiveServer,
                                         tmp_path: Path, shared: Shared) -> None:
    frugal = orgs.new(["consumer"], "小额用户")
    provider.grant_entitlement(frugal.org_id, SLUG,  # type: ignore[attr-defined]
                               quotas={"queries": 1, "bytes": 10})
    profile = write_profile(frugal, server, tmp_path / "frugal.share")
    # One query is allowed, but not the file's bytes (the client's readers report the refused
    # read as a missing or corrupt file).
    with pytest.raises((OSError, ValueError)):
        delta_sharing.load_as_pandas(f"{profile}#{SLUG}.default.load")
    with pytest.raises(HTTPError) as err:
        delta_sharing.load_as_pandas(f"{profile}#{SLUG}.default.load")
    assert err.value.response.status_code == 403
    assert err.value.response.json()["shuguCode"] == "quota_exceeded"


def test_a_ranged_read_within_quota_is_served(shared: Shared) -> None:
    f = files_of(shared)[0]
    assert httpx.get(f.url, headers={"Range": "bytes=0-3"}, timeout=60).content == b"PAR1"
