"""Table names: only plain lower-case ASCII identifiers, refused with 422 at creation.

A table's name is its directory under the product's, so a reserved, hidden, traversing,
lookalike or colliding name must never be created (a table called `_delta_log` was accepted
and then every ingest into it answered 500).
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from shugu.catalog import products, schemas
from shugu.catalog.models import DataTable
from shugu.client import Client, ShuguAPIError
from shugu.errors import ShuguError
from shugu.runtime import Exchange
from tests.catalog.test_ingest_service import make_provider

BAD_NAMES = [
    "_delta_log", "_delta_index", "_x", "__", ".hidden", ".", "..", "../x", "a/b", "a\\b",
    "a.b", "a b", "a\x00b", "a\nb", "", "1table", "Data", "DATA", "tAble",
    "tаble",  # Cyrillic а
    "ｔａｂｌｅ",  # full-width
    "ıtem",  # dotless i, upper-cases to I
    "table\u200b",  # zero-width space
    "表格", "x" * 64, "x" * 1000, "a-b", "a;b", "%2e%2e",
]


@pytest.fixture
def slug(provider: Client) -> str:
    provider.create_product("names", "表名")
    provider.create_table("names", "kept")
    provider.ingest("names", "kept", b"a,b\n1,2\n")
    return "names"


def test_bad_names_are_422_and_nothing_is_created(provider: Client, slug: str,
                                                  exchange: Exchange) -> None:
    for name in BAD_NAMES:
        with pytest.raises(ShuguAPIError) as info:
            provider.create_table(slug, name)
        assert info.value.status == 422, name
        # A NUL anywhere in a request is refused by the request guard first.
        assert info.value.code == ("invalid_characters" if "\x00" in name
                                   else "invalid_request"), name
    with exchange.read() as s:
        assert list(s.scalars(select(DataTable.name))) == ["kept"]
    # The table made before is intact and still takes data.
    assert provider.ingest(slug, "kept", b"a,b\n3,4\n").version == 1


def test_good_names_work(provider: Client, slug: str) -> None:
    for name in ["t", "x" * 63, "a_1", "delta_log", "t_"]:
        out = provider.create_table(slug, name)
        assert out.name == name
        assert provider.ingest(slug, name, b"a\n1\n").version == 0


@pytest.mark.parametrize("name", ["_delta_log", "..", "Data", "x" * 64, "a/b"])
def test_the_service_refuses_them_whatever_the_caller(exchange: Exchange, name: str) -> None:
    who = make_provider(exchange)
    with pytest.raises(ShuguError) as info, exchange.transaction() as s:
        products.create_table(s, who, "power-use", schemas.TableIn.model_construct(
            name=name, description=None, partition_by=[]))
    assert (info.value.status, info.value.code) == (422, "invalid_table_name")
