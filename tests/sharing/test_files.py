"""Signed file URLs: ranges, tampering, expiry, revocation; pyarrow and DuckDB through them."""

from __future__ import annotations

import datetime as dt
import json
import time
from urllib.parse import urlsplit

import delta_sharing
import duckdb
import fsspec
import httpx
import pyarrow as pa
import pyarrow.parquet as pq
from delta_sharing.protocol import AddFile, DeltaSharingProfile
from delta_sharing.rest_client import DataSharingRestClient
from fsspec.implementations.http import HTTPFileSystem

from shugu.runtime import Exchange
from shugu.sharing.signer import FileGrant, LocalSigner, decode_path
from tests.conftest import LiveServer
from tests.sharing.conftest import SLUG, Shared, ingest, source


def files_of(shared: Shared, table: str = "load") -> list[AddFile]:
    client = DataSharingRestClient(DeltaSharingProfile.read_from_file(shared.profile))
    t = delta_sharing.Table(name=table, share=SLUG, schema="default")
    return list(client.list_files_in_table(t).add_files)


def test_head_get_and_ranges(shared: Shared) -> None:
    f = files_of(shared)[0]
    head = httpx.head(f.url)
    assert head.status_code == 200
    assert int(head.headers["content-length"]) == f.size
    assert head.headers["accept-ranges"] == "bytes"
    assert "content-encoding" not in head.headers
    whole = httpx.get(f.url, timeout=60)
    assert (whole.status_code, len(whole.content)) == (200, f.size)
    part = httpx.get(f.url, headers={"Range": "bytes=4-99"}, timeout=60)
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 4-99/{f.size}"
    assert part.content == whole.content[4:100]
    tail = httpx.get(f.url, headers={"Range": f"bytes={f.size - 8}-"}, timeout=60)
    assert (tail.status_code, tail.content) == (206, whole.content[-8:])
    suffix = httpx.get(f.url, headers={"Range": "bytes=-8"}, timeout=60)
    assert suffix.content == whole.content[-8:]
    beyond = httpx.get(f.url, headers={"Range": f"bytes={f.size}-"}, timeout=60)
    assert beyond.status_code == 416
    # Ids are stable across queries; URLs are fresh.
    assert files_of(shared)[0].id == f.id


def test_tampered_expired_and_revoked_urls_are_refused(shared: Shared, exchange: Exchange,
                                                       server: LiveServer) -> None:
    f = files_of(shared)[0]
    parts = urlsplit(f.url)
    table_id, entitlement_id, _expires, encoded = parts.path.split("/")[-4:]
    forged = f.url.replace(f"/{entitlement_id}/", f"/{int(entitlement_id) + 1}/")
    flipped = f.url[:-1] + ("0" if f.url[-1] != "0" else "1")
    for bad in (forged, flipped, f.url.split("?")[0]):
        r = httpx.get(bad, timeout=60)
        assert r.status_code == 403, bad
        assert r.json()["errorCode"] == "PERMISSION_DENIED"
    signer = LocalSigner.load_or_create(exchange.settings.keys_dir)
    past = FileGrant(int(table_id), int(entitlement_id), int(time.time()) - 1,
                     decode_path(encoded))
    expired = httpx.get(signer.url(server.url, past), timeout=60)
    assert (expired.status_code, expired.json()["shuguCode"]) == (403, "url_expired")
    assert httpx.get(f.url, timeout=60).status_code == 200
    shared.provider.revoke_entitlement(shared.entitlement_id, "合同终止")
    revoked = httpx.get(f.url, timeout=60)
    assert (revoked.status_code, revoked.json()["shuguCode"]) == (403, "entitlement_revoked")
    assert httpx.head(f.url).status_code == 403


class _HttpForDuckDB(HTTPFileSystem):  # type: ignore[misc]
    def modified(self, path: str) -> dt.datetime:
        return dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def test_pyarrow_and_duckdb_read_through_the_files(shared: Shared) -> None:
    urls = [f.url for f in files_of(shared)]
    http = fsspec.filesystem("http")
    table = pa.concat_tables(pq.read_table(u, filesystem=http) for u in urls)
    assert table.sort_by("id").to_pylist() == source(0, 50).to_pylist()
    con = duckdb.connect()
    # DuckDB's httpfs extension is not installed offline; its fsspec bridge reads the same
    # URLs, and asks for a modification time that fsspec's HTTP filesystem cannot give.
    con.register_filesystem(_HttpForDuckDB())
    rows = con.sql(f"select count(*), count(distinct region) from read_parquet({urls!r})")
    assert rows.fetchall() == [(50, 3)]


def test_protocol_errors_have_the_protocol_shape(shared: Shared, server: LiveServer) -> None:
    base = f"{server.url}/delta-sharing"
    r = httpx.get(f"{base}/shares", timeout=60)
    assert (r.status_code, r.json()["errorCode"]) == (401, "UNAUTHENTICATED")
    token = DeltaSharingProfile.read_from_file(shared.profile).bearer_token
    auth = {"Authorization": f"Bearer {token}"}
    r = httpx.get(f"{base}/shares?maxResults=-1", headers=auth, timeout=60)
    assert (r.status_code, r.json()["errorCode"]) == (400, "INVALID_PARAMETER_VALUE")
    r = httpx.get(f"{base}/shares?pageToken=garbage", headers=auth, timeout=60)
    assert r.status_code == 400
    r = httpx.get(f"{base}/no/such/thing", headers=auth, timeout=60)
    assert (r.status_code, r.json()["errorCode"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    table = f"{base}/shares/{SLUG}/schemas/default/tables/load"
    r = httpx.post(f"{table}/query", headers=auth, json={"version": "x"}, timeout=60)
    assert r.status_code == 400
    r = httpx.get(f"{table}/changes", headers=auth, timeout=60)
    assert r.status_code == 400
    r = httpx.get(f"{table}/changes?startingVersion=0&includeHistoricalMetadata=True",
                  headers=auth, timeout=60)
    assert r.status_code == 200
    assert r.headers["delta-table-version"] == "0"
    r = httpx.get(f"{table}/version", headers=auth, timeout=60)
    assert r.headers["delta-table-version"] == "0"
    r = httpx.get(f"{table}/version?startingTimestamp=2000-01-01%2000:00:00", headers=auth,
                  timeout=60)
    assert r.headers["delta-table-version"] == "0"
    r = httpx.get(f"{table}/version?startingTimestamp=2999-01-01", headers=auth, timeout=60)
    assert r.status_code == 400
    r = httpx.get(f"{base}/shares/{SLUG}/schemas/other/tables", headers=auth, timeout=60)
    assert r.status_code == 404
    r = httpx.get(f"{table}/metadata", headers=auth, timeout=60)
    assert r.headers["content-type"].startswith("application/x-ndjson")
    assert len(r.text.splitlines()) == 2


def test_statistics_and_limit_skip_files(shared: Shared) -> None:
    ingest(shared.provider, SLUG, "load", source(50, 20))
    ingest(shared.provider, SLUG, "load", source(70, 20))
    client = DataSharingRestClient(DeltaSharingProfile.read_from_file(shared.profile))
    table = delta_sharing.Table(name="load", share=SLUG, schema="default")

    def ids(**kw: object) -> list[int]:
        files = client.list_files_in_table(table, **kw).add_files  # type: ignore[arg-type]
        return sorted(json.loads(f.stats)["minValues"]["id"] for f in files)

    def hint(op: str, value: int) -> str:
        return json.dumps({"op": op, "children": [
            {"op": "column", "name": "id", "valueType": "long"},
            {"op": "literal", "value": str(value), "valueType": "long"}]})

    assert ids() == [0, 50, 70]
    assert ids(jsonPredicateHints=hint("greaterThanOrEqual", 70)) == [70]
    assert ids(jsonPredicateHints=hint("lessThan", 50)) == [0]
    assert ids(jsonPredicateHints=hint("equal", 60)) == [50]
    negated = json.dumps({"op": "not", "children": [json.loads(hint("lessThan", 70))]})
    assert ids(jsonPredicateHints=negated) == [70]
    assert ids(jsonPredicateHints='{"op":"nonsense"}') == [0, 50, 70]  # best effort
    assert len(ids(limitHint=10)) == 1
    assert len(ids(limitHint=60)) == 2
