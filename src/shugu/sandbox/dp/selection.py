"""Which groups of a GROUP BY a differentially private answer may show.

The set of groups is itself data: a group that exists only because one identity has that
value would name the identity's value. Each group's count of distinct identities goes
through OpenDP's `make_laplace_threshold` (propose-test-release over a hashmap of counts,
Rogers 2023): a group is released only when its noisy count clears a threshold chosen so
that the release is (ε, δ)-DP for a unit that touches at most `groups_touched` groups and
moves each count by at most `per_group`. Small groups are therefore absent at random, and
no count of dropped groups is ever told.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import opendp.prelude as dp

from shugu.errors import InvalidInput
from shugu.sandbox.dp.mechanisms import check_epsilon

dp.enable_features("contrib")


def check_delta(delta: object) -> float:
    if isinstance(delta, bool) or not isinstance(delta, int | float) or \
            not 0 < float(delta) < 1e-3:
        raise InvalidInput("delta must be above 0 and below 0.001", code="invalid_delta")
    return float(delta)


@lru_cache(maxsize=1024)
def _mechanism(epsilon: float, delta: float, groups_touched: int,
               per_group: int) -> tuple[dp.Measurement, float, int]:
    """The smallest threshold (and the scale) for which OpenDP certifies (ε, δ)."""
    domain = dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T=dp.i64))
    metric = dp.l01inf_distance(dp.absolute_distance(T=dp.i64))
    d_in = (groups_touched, groups_touched * per_group, per_group)
    scale = min(groups_touched, groups_touched * per_group) * per_group / epsilon
    for _ in range(64):
        lo, hi = 1, 2
        while True:
            m = dp.m.make_laplace_threshold(domain, metric, scale=scale, threshold=hi)
            eps, dlt = m.map(d_in)
            if eps > epsilon:
                break
            if dlt <= delta:
                break
            lo, hi = hi, hi * 2
            if hi > 2**50:
                raise InvalidInput("delta is too small for these bounds", code="invalid_delta")
        if eps > epsilon:
            scale = math.nextafter(scale, math.inf) * (1 + 1e-12)
            continue
        while hi - lo > 1:  # the smallest threshold that still gives δ
            mid = (lo + hi) // 2
            if dp.m.make_laplace_threshold(domain, metric, scale=scale,
                                           threshold=mid).map(d_in)[1] <= delta:
                hi = mid
            else:
                lo = mid
        return dp.m.make_laplace_threshold(domain, metric, scale=scale, threshold=hi), scale, hi
    raise AssertionError("OpenDP did not certify the threshold")  # pragma: no cover


def key_of(values: Sequence[Any]) -> str:
    return json.dumps([v if isinstance(v, int | float | str | bool) or v is None else str(v)
                       for v in values], ensure_ascii=False, sort_keys=True)


def select(keys: Sequence[str], identities: Sequence[int], epsilon: float, delta: float,
           groups_touched: int, per_group: int = 1) -> dict[str, int]:
    """key -> noisy count of identities, for the released groups only."""
    m, _, _ = _mechanism(check_epsilon(epsilon), check_delta(delta), groups_touched,
                         per_group)
    counts = {k: int(c) for k, c in zip(keys, identities, strict=True) if int(c) > 0}
    return {str(k): int(v) for k, v in m(counts).items()} if counts else {}


def threshold(epsilon: float, delta: float, groups_touched: int, per_group: int = 1) -> int:
    """The noisy count a group needs to be released."""
    return _mechanism(check_epsilon(epsilon), check_delta(delta), groups_touched,
                      per_group)[2]


def scale(epsilon: float, delta: float, groups_touched: int, per_group: int = 1) -> float:
    return _mechanism(check_epsilon(epsilon), check_delta(delta), groups_touched,
                      per_group)[1]
