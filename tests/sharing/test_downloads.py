"""The `downloads` quota: each answered /query or /changes is one download (it hands out a
table's file URLs), debited with the query in one conditional UPDATE; the files fetched
through that answer's URLs are the same download and are metered in bytes. Through the
official client and raw HTTP, on SQLite and PostgreSQL, also under concurrency."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from pathlib import Path

import delta_sharing
import httpx
import pytest
from requests import HTTPError
from sqlalchemy import select

from shugu.client import Client
from shugu.entitlements.models import Entitlement
from shugu.metering.models import UsageRecord
from shugu.runtime import Exchange
from tests.conftest import LiveServer, Orgs
from tests.sharing.conftest import SLUG, Shared, write_profile

TABLE = f"/delta-sharing/shares/{SLUG}/schemas/default/tables/load"


def limited(shared: Shared, orgs: Orgs, server: LiveServer, tmp_path: Path,
            **quotas: int) -> tuple[Client, int, str]:
    """A consumer with a direct grant under `quotas`: (client, entitlement id, profile)."""
    consumer = orgs.new(["consumer"], "限量用户")
    e = shared.provider.grant_entitlement(consumer.org_id, SLUG,  # type: ignore[attr-defined]
                                          quotas=quotas)
    profile = write_profile(consumer, server, tmp_path / f"limited{e.id}.share")
    return consumer, e.id, profile


def token(profile: str) -> str:
    return str(json.loads(Path(profile).read_text())["bearerToken"])


def used(exchange: Exchange, eid: int) -> tuple[int, int, int]:
    with exchange.read() as s:
        e = s.get(Entitlement, eid)
        assert e is not None
        return e.used_queries, e.used_downloads, e.used_bytes


def downloads_recorded(exchange: Exchange, eid: int) -> int:
    with exchange.read() as s:
        return sum(s.scalars(select(UsageRecord.quantity).where(
            UsageRecord.entitlement_id == eid, UsageRecord.kind == "share.download")))


def test_one_download_per_answer_over_raw_http(shared: Shared, orgs: Orgs, server: LiveServer,
                                               exchange: Exchange, tmp_path: Path) -> None:
    _, eid, profile = limited(shared, orgs, server, tmp_path, downloads=1)
    auth = {"Authorization": f"Bearer {token(profile)}"}
    first = httpx.post(server.url + TABLE + "/query", json={}, headers=auth)
    assert first.status_code == 200
    urls = [json.loads(x)["file"]["url"] for x in first.text.splitlines() if '"file"' in x]
    assert urls
    # The answer's files are that download: whole-file GETs (twice) and ranges are served,
    # charged in bytes.
    sizes = [len(httpx.get(u).content) for u in urls for _ in range(2)]
    assert httpx.get(urls[0], headers={"Range": "bytes=0-3"}).content == b"PAR1"
    # A whole-file GET is charged when its last byte has been written, which may be just
    # after the client has read it.
    deadline = time.monotonic() + 10
    while used(exchange, eid)[2] < sum(sizes) + 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert used(exchange, eid) == (1, 1, sum(sizes) + 4)
    # A second answer is a second download: refused, whatever the form.
    for r in (httpx.post(server.url + TABLE + "/query", json={}, headers=auth),
              httpx.post(server.url + TABLE + "/query", json={"limitHint": 0}, headers=auth),
              httpx.post(server.url + TABLE + "/query", json={"version": 0}, headers=auth),
              httpx.get(server.url + TABLE + "/changes?startingVersion=0", headers=auth)):
        assert r.status_code == 403, r.text
        assert r.json()["shuguCode"] == "quota_exceeded"
        assert "downloads" in r.json()["message"]
    # Metadata, version and listing are not downloads.
    assert httpx.get(server.url + TABLE + "/metadata", headers=auth).status_code == 200
    assert httpx.get(server.url + TABLE + "/version", headers=auth).status_code == 200
    assert used(exchange, eid)[:2] == (1, 1)
    assert downloads_recorded(exchange, eid) == 1


def test_the_official_client_counts_snapshots_and_change_feeds(
        shared: Shared, orgs: Orgs, server: LiveServer, exchange: Exchange,
        tmp_path: Path) -> None:
    _, eid, profile = limited(shared, orgs, server, tmp_path, downloads=2)
    url = f"{profile}#{SLUG}.default.load"
    assert len(delta_sharing.load_as_pandas(url)) == 50
    assert len(delta_sharing.load_table_changes_as_pandas(url, starting_version=0)) == 50
    for load in (lambda: delta_sharing.load_as_pandas(url),
                 lambda: delta_sharing.load_as_pandas(url, use_delta_format=True),
                 lambda: delta_sharing.load_table_changes_as_pandas(url, starting_version=0)):
        with pytest.raises(HTTPError) as err:
            load()
        assert err.value.response.status_code == 403
        assert err.value.response.json()["shuguCode"] == "quota_exceeded"
    assert used(exchange, eid)[:2] == (2, 2)
    assert downloads_recorded(exchange, eid) == 2


def test_a_zero_download_quota_allows_no_data_out(shared: Shared, orgs: Orgs,
                                                  server: LiveServer, tmp_path: Path) -> None:
    _, _, profile = limited(shared, orgs, server, tmp_path, downloads=0)
    # The share stays visible; its data does not flow.
    assert [t.name for t in delta_sharing.SharingClient(profile).list_all_tables()] == ["load"]
    with pytest.raises(HTTPError) as err:
        delta_sharing.load_as_pandas(f"{profile}#{SLUG}.default.load")
    assert err.value.response.json()["shuguCode"] == "quota_exceeded"


def test_concurrent_answers_never_overspend_downloads(shared: Shared, orgs: Orgs,
                                                      server: LiveServer, exchange: Exchange,
                                                      tmp_path: Path) -> None:
    _, eid, profile = limited(shared, orgs, server, tmp_path, downloads=3)
    auth = {"Authorization": f"Bearer {token(profile)}"}
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()
    start = threading.Barrier(24)

    def worker(i: int) -> None:
        with httpx.Client(timeout=120) as http:
            start.wait()
            if i % 2:
                r = http.post(server.url + TABLE + "/query", json={}, headers=auth)
            else:
                r = http.get(server.url + TABLE + "/changes?startingVersion=0", headers=auth)
            code = None if r.status_code == 200 else r.json()["shuguCode"]
            with lock:
                results.append((r.status_code, code))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert Counter(results) == {(200, None): 3, (403, "quota_exceeded"): 21}
    assert used(exchange, eid)[:2] == (3, 3)
    assert downloads_recorded(exchange, eid) == 3


def test_downloads_spill_over_to_the_next_entitlement(shared: Shared, orgs: Orgs,
                                                      server: LiveServer, exchange: Exchange,
                                                      tmp_path: Path) -> None:
    """Two direct grants (no marginal cost either): the older first until its downloads
    are used up, then the newer; every answer's URLs carry the one charged."""
    consumer, first, profile = limited(shared, orgs, server, tmp_path, downloads=1)
    second = shared.provider.grant_entitlement(consumer.org_id, SLUG,  # type: ignore[attr-defined]
                                               quotas={"downloads": 1}).id
    auth = {"Authorization": f"Bearer {token(profile)}"}
    charged = []
    for _ in range(2):
        r = httpx.post(server.url + TABLE + "/query", json={}, headers=auth)
        assert r.status_code == 200
        url = next(json.loads(x)["file"]["url"] for x in r.text.splitlines() if '"file"' in x)
        charged.append(int(url.split("/delta-sharing/files/")[1].split("/")[1]))
        assert httpx.get(url).status_code == 200
    assert charged == [first, second]
    assert httpx.post(server.url + TABLE + "/query", json={}, headers=auth).status_code == 403
    assert used(exchange, first)[1:2] == used(exchange, second)[1:2] == (1,)
