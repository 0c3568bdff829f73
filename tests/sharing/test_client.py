"""The official delta-sharing client against a real shugu server on loopback."""

from __future__ import annotations

import delta_sharing
import pandas as pd
import pyarrow as pa
import pytest
from delta_sharing.protocol import DeltaSharingProfile, Share
from delta_sharing.rest_client import DataSharingRestClient
from deltalake import DeltaTable
from requests import HTTPError

from shugu.runtime import Exchange
from tests.sharing.conftest import (
    SLUG,
    Shared,
    commit_time,
    ingest,
    record_version,
    source,
    table_dir,
)


def expected(*tables: pa.Table) -> pd.DataFrame:
    frame = pa.concat_tables(tables).to_pandas(date_as_object=True)
    return frame.sort_values("id").reset_index(drop=True)


def loaded(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("id").reset_index(drop=True)


def test_load_as_pandas_equals_the_source(shared: Shared) -> None:
    got = delta_sharing.load_as_pandas(shared.url("load"))
    pd.testing.assert_frame_equal(loaded(got), expected(source(0, 50)))


def test_partitioned_table(shared: Shared) -> None:
    shared.provider.create_table(SLUG, "by_region", partition_by=["region"])
    ingest(shared.provider, SLUG, "by_region", source(0, 30))
    got = delta_sharing.load_as_pandas(shared.url("by_region"))
    want = expected(source(0, 30))
    pd.testing.assert_frame_equal(loaded(got)[list(want.columns)], want)
    # A partition predicate lets the server skip the other regions' files.
    hint = ('{"op":"equal","children":[{"op":"column","name":"region","valueType":"string"},'
            '{"op":"literal","value":"杭州","valueType":"string"}]}')
    client = DataSharingRestClient(DeltaSharingProfile.read_from_file(shared.profile))
    table = delta_sharing.Table(name="by_region", share=SLUG, schema="default")
    files = client.list_files_in_table(table, jsonPredicateHints=hint).add_files
    assert [f.partition_values for f in files] == [{"region": "杭州"}]


def test_list_all_tables_over_pages(shared: Shared) -> None:
    for name in ("b_table", "c_table"):
        shared.provider.create_table(SLUG, name)
        ingest(shared.provider, SLUG, name, source(0, 3))
    shared.provider.create_table(SLUG, "unpublished")  # no version yet: not shared
    sc = delta_sharing.SharingClient(shared.profile)
    assert [s.name for s in sc.list_shares()] == [SLUG]
    assert sorted(t.name for t in sc.list_all_tables()) == ["b_table", "c_table", "load"]
    rest = DataSharingRestClient(DeltaSharingProfile.read_from_file(shared.profile))
    names, token, pages = [], None, 0
    while True:
        page = rest.list_all_tables(Share(SLUG), max_results=2, page_token=token)
        names += [t.name for t in page.tables]
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert (pages, sorted(names)) == (2, ["b_table", "c_table", "load"])


def test_limit_version_and_timestamp(shared: Shared, exchange: Exchange) -> None:
    ingest(shared.provider, SLUG, "load", source(50, 20))
    url = shared.url("load")
    assert len(delta_sharing.load_as_pandas(url, limit=5)) == 5
    pd.testing.assert_frame_equal(loaded(delta_sharing.load_as_pandas(url, version=0)),
                                  expected(source(0, 50)))
    pd.testing.assert_frame_equal(loaded(delta_sharing.load_as_pandas(url)),
                                  expected(source(0, 50), source(50, 20)))
    # As of version 0's commit time: version 0, whatever came later.
    got = delta_sharing.load_as_pandas(url, timestamp=commit_time(table_dir(exchange, "load"), 0))
    assert len(got) == 50
    with pytest.raises(HTTPError) as err:  # before the table existed
        delta_sharing.load_as_pandas(url, timestamp="2000-01-01 00:00:00")
    assert err.value.response.status_code == 400
    with pytest.raises(HTTPError) as err:  # a version shugu has not published
        delta_sharing.load_as_pandas(url, version=2)
    assert err.value.response.status_code == 400
    assert err.value.response.json()["errorCode"] == "INVALID_PARAMETER_VALUE"


def test_table_changes_after_appends_updates_and_deletes(shared: Shared,
                                                         exchange: Exchange) -> None:
    ingest(shared.provider, SLUG, "load", source(50, 10))  # version 1
    path = str(table_dir(exchange, "load"))
    DeltaTable(path).update(predicate="id < 3", updates={"note": "'已更正'"})  # version 2
    DeltaTable(path).delete("id >= 55")  # version 3
    record_version(exchange, "load", 3)
    changes = delta_sharing.load_table_changes_as_pandas(shared.url("load"), starting_version=1)
    counts = changes.groupby(["_commit_version", "_change_type"]).size().to_dict()
    assert counts == {(1, "insert"): 10, (2, "update_preimage"): 3,
                      (2, "update_postimage"): 3, (3, "delete"): 5}
    post = changes[changes["_change_type"] == "update_postimage"]
    assert set(post["note"]) == {"已更正"}
    only_v3 = delta_sharing.load_table_changes_as_pandas(shared.url("load"),
                                                         starting_version=3,
                                                         ending_version=3)
    assert sorted(only_v3["id"]) == [55, 56, 57, 58, 59]
    after = delta_sharing.load_as_pandas(shared.url("load"))
    assert len(after) == 55
    since = delta_sharing.load_table_changes_as_pandas(
        shared.url("load"), starting_timestamp=commit_time(table_dir(exchange, "load"), 2))
    assert set(since["_commit_version"]) == {2, 3}


def test_another_consumer_is_refused(shared: Shared, stranger: str) -> None:
    assert delta_sharing.SharingClient(stranger).list_shares() == []
    with pytest.raises(HTTPError) as err:
        delta_sharing.load_as_pandas(f"{stranger}#{SLUG}.default.load")
    assert err.value.response.status_code == 403
    assert err.value.response.json()["errorCode"] == "PERMISSION_DENIED"
    with pytest.raises(HTTPError) as err:
        delta_sharing.load_as_pandas(f"{stranger}#no-such-product.default.load")
    assert err.value.response.status_code == 404


def test_delta_response_format_through_delta_kernel(shared: Shared) -> None:
    shared.provider.create_table(SLUG, "by_region", partition_by=["region"])
    ingest(shared.provider, SLUG, "by_region", source(0, 30))
    got = delta_sharing.load_as_pandas(shared.url("by_region"), use_delta_format=True)
    want = expected(source(0, 30))
    got = loaded(got)[list(want.columns)]
    # delta-kernel keeps microsecond timestamps; the parquet path gives nanoseconds.
    got["at"] = got["at"].astype(want["at"].dtype)
    pd.testing.assert_frame_equal(got, want)
    assert len(delta_sharing.load_as_pandas(shared.url("load"), use_delta_format=True,
                                            limit=7)) == 7


def test_delta_format_change_data_feed(shared: Shared, exchange: Exchange) -> None:
    ingest(shared.provider, SLUG, "load", source(50, 10))  # version 1
    path = str(table_dir(exchange, "load"))
    DeltaTable(path).delete("id >= 55")  # version 2
    record_version(exchange, "load", 2)
    changes = delta_sharing.load_table_changes_as_pandas(shared.url("load"), starting_version=1,
                                                         use_delta_format=True)
    counts = changes.groupby(["_commit_version", "_change_type"]).size().to_dict()
    assert counts == {(1, "insert"): 10, (2, "delete"): 5}
