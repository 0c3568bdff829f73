"""Product samples (样例数据): only when offered, listed and free of personal information,
from the reviewed versions, without identity or never-output columns."""

from __future__ import annotations

from shugu.client import Client
from tests.conftest import list_product
from tests.review.test_listing_api import PEOPLE, api_error

LOAD = ("region,month,kwh\n"
        + "".join(f"r{i % 4},2026-{i % 12 + 1:02d},{i * 10}\n" for i in range(30))).encode()


def make(provider: Client, slug: str, data: bytes, sample_rows: int = 3) -> None:
    provider.create_product(slug, "用电样例", sample_rows=sample_rows)
    provider.create_table(slug, "load")
    provider.ingest(slug, "load", data, format="csv")


def test_a_listed_clean_product_shows_its_sample_from_the_reviewed_version(
        provider: Client, consumer: Client, operator: Client) -> None:
    make(provider, "grid-sample", LOAD)
    assert api_error(lambda: consumer.product_sample("grid-sample")).status == 404
    own = provider.product_sample("grid-sample")  # the provider checks its own before listing
    assert own.tables[0].rows == [["r0", "2026-01", "0"], ["r1", "2026-02", "10"],
                                  ["r2", "2026-03", "20"]]
    list_product(provider, operator, "grid-sample")
    # Data ingested after the review is not shown to others until it is reviewed.
    provider.ingest("grid-sample", "load", b"region,month,kwh\nzz,2027-01,1\n", format="csv",
                    mode="overwrite")
    seen = consumer.product_sample("grid-sample")
    assert seen.rows_per_table == 3 and seen.tables[0].version == 0
    assert seen.tables[0].columns == ["region", "month", "kwh"]
    assert seen.tables[0].rows[0] == ["r0", "2026-01", "0"]
    assert provider.product_sample("grid-sample").tables[0].rows == [["zz", "2027-01", "1"]]


def test_rules_hide_identity_and_never_output_columns(provider: Client, consumer: Client,
                                                      operator: Client) -> None:
    data = b"meter,region,kwh\nm1,r1,5\nm2,r1,6\n"
    make(provider, "meter-sample", data, sample_rows=1)
    provider.set_analysis_rules("meter-sample", "load", {
        "columns": {"meter": {"role": "identity"}, "region": {"role": "never_output"},
                    "kwh": {"role": "aggregatable", "functions": ["SUM"], "lower": 0,
                            "upper": 100}}})
    list_product(provider, operator, "meter-sample")
    table = consumer.product_sample("meter-sample").tables[0]
    assert table.columns == ["kwh"] and table.withheld_columns == ["meter", "region"]
    assert table.rows == [["5"]]


def test_no_sample_unless_offered_or_when_personal_information_was_found(
        provider: Client, consumer: Client, operator: Client) -> None:
    make(provider, "no-sample", LOAD, sample_rows=0)
    list_product(provider, operator, "no-sample")
    refused = api_error(lambda: consumer.product_sample("no-sample"))
    assert (refused.status, refused.code) == (403, "sample_not_offered")

    make(provider, "people-sample", PEOPLE)
    list_product(provider, operator, "people-sample", data=None)
    refused = api_error(lambda: consumer.product_sample("people-sample"))
    assert (refused.status, refused.code) == (403, "sample_withheld_personal_data")

    too_many = api_error(lambda: provider.update_product("no-sample", sample_rows=21))
    assert too_many.status == 422
    provider.update_product("no-sample", sample_rows=2)
    assert len(consumer.product_sample("no-sample").tables[0].rows) == 2
