"""Analysis rules: versioned, validated against real columns, readable by the right parties."""

from __future__ import annotations

import copy

import pytest

from shugu.client import ShuguAPIError
from tests.conftest import Orgs
from tests.sandbox.conftest import RULES, SLUG, World


def test_rules_are_versioned_and_logged(world: World) -> None:
    first = world.provider.analysis_rules(SLUG, "usage")
    assert first.version == 1 and first.rules.min_identities == 5
    changed = copy.deepcopy(RULES)
    changed["min_identities"] = 20
    second = world.provider.set_analysis_rules(SLUG, "usage", changed)
    assert second.version == 2 and second.rules.min_identities == 20
    assert world.provider.analysis_rules(SLUG, "usage", version=1).rules.min_identities == 5
    events = world.provider.events(action="sandbox.rules_set").items
    assert [e.payload["version"] for e in events] == [1, 2]
    # The entitled consumer reads the rules it is bound by.
    assert world.consumer.analysis_rules(SLUG, "usage").version == 2


def test_rules_name_real_columns(world: World) -> None:
    bad = copy.deepcopy(RULES)
    bad["columns"]["salary"] = {"role": "dimension"}  # type: ignore[index]
    with pytest.raises(ShuguAPIError) as exc:
        world.provider.set_analysis_rules(SLUG, "usage", bad)
    assert exc.value.status == 422 and exc.value.code == "unknown_column"
    assert exc.value.details["columns"] == ["salary"]


@pytest.mark.parametrize("change", [
    {"columns": {"region": {"role": "dimension"}}},                      # no identity
    {"columns": {"uscc": {"role": "identity"}, "kwh": {"role": "aggregatable"}}},
    {"min_identities": 1},
    {"joins": [{"with": "mine", "on": ["region"]}]},                      # not a key
    {"mode": "dp"},                                                       # no epsilon/bounds
])
def test_invalid_rules_are_refused(world: World, change: dict[str, object]) -> None:
    rules = {**copy.deepcopy(RULES), **change}
    with pytest.raises(ShuguAPIError) as exc:
        world.provider.set_analysis_rules(SLUG, "usage", rules)
    assert exc.value.status == 422


def test_other_organisations_get_nothing(world: World, orgs: Orgs) -> None:
    stranger = orgs.new(["consumer", "provider"], "别家")
    with pytest.raises(ShuguAPIError) as exc:
        stranger.set_analysis_rules(SLUG, "usage", RULES)
    assert exc.value.status == 403 and exc.value.code == "not_product_owner"
    with pytest.raises(ShuguAPIError) as exc:
        stranger.analysis_rules(SLUG, "usage")
    assert exc.value.status == 403 and exc.value.code == "not_entitled"
    with pytest.raises(ShuguAPIError) as exc:
        world.consumer.set_analysis_rules(SLUG, "usage", RULES)
    assert exc.value.code == "not_product_owner"
