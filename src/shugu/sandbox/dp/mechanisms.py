"""Noisy COUNT, SUM and AVG from exact aggregates, with noise drawn by OpenDP.

The engine computes the exact aggregate (over values clamped to the declared bounds); these
functions add noise calibrated to the aggregate's sensitivity. Neighbouring datasets differ
by adding or removing one row (OpenDP's symmetric distance), so the number of rows is itself
private and no upper bound on it is assumed ("unbounded" DP).

- COUNT: sensitivity 1; discrete Laplace (OpenDP `make_laplace` on i64), scale 1/ε.
- SUM: sensitivity taken from OpenDP's own `make_sum` stability map for the declared bounds
  (max(|lower|, |upper|) for integers; for floats OpenDP's bound for float summation, which
  is upper - lower for mixed-sign bounds plus a rounding allowance, CSVW22); discrete
  Laplace for integer columns, Laplace for floats.
- AVG: ε/2 for a noisy sum and ε/2 for a noisy count (sequential composition), then the
  ratio, clamped to the bounds (post-processing costs no privacy).

The plural forms release one aggregate for every group of a GROUP BY in one OpenDP call: the
groups are disjoint (each row is in exactly one), so adding or removing a row moves the
vector of group aggregates by at most the per-row sensitivity in L1, and the whole vector
costs ε (parallel composition). One call instead of one per group saves OpenDP's per-call
overhead (~0.2 ms); the sampling itself costs ~20 µs per integer and ~50 µs per float value.

OpenDP needs only its "contrib" feature here: the Laplace measurement and the sum
transformation are contributed (not yet formally vetted) code. We do not enable
"floating-point" (float Laplace in OpenDP 0.16 is discretised exactly and does not need it)
nor "honest-but-curious" (we pass no Python callbacks into OpenDP).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from numbers import Integral, Real

import opendp.prelude as dp

from shugu.errors import InvalidInput

dp.enable_features("contrib")

# Integer sums beyond this are released through the float path: OpenDP's i64 noise would
# saturate near 2**63, and DuckDB returns HUGEINT sums that can exceed it.
_I64_SAFE = 2**62
# Bounds beyond this would make OpenDP's float sensitivity overflow; nobody declares them.
_MAX_BOUND = 1e300


def _finite(name: str, value: object, code: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real | Decimal):
        raise InvalidInput(f"{name} must be a number", code=code)
    try:
        f = float(value)
    except (ValueError, OverflowError):  # a signalling NaN, an int beyond any float
        f = math.nan
    if not math.isfinite(f):
        raise InvalidInput(f"{name} must be finite, got {value!r}", code=code)
    return f


def check_epsilon(epsilon: object) -> float:
    eps = _finite("epsilon", epsilon, "invalid_epsilon")
    if eps <= 0:
        raise InvalidInput(f"epsilon must be positive, got {epsilon!r}", code="invalid_epsilon")
    return eps


def _is_int(value: object) -> bool:
    return isinstance(value, Integral) and not isinstance(value, bool)


def check_bounds(lower: object, upper: object) -> tuple[float, float]:
    lo = _finite("lower", lower, "invalid_bounds")
    hi = _finite("upper", upper, "invalid_bounds")
    if lo > hi:
        raise InvalidInput(f"lower ({lower!r}) is above upper ({upper!r})", code="invalid_bounds")
    if max(abs(lo), abs(hi)) > _MAX_BOUND:
        raise InvalidInput("bounds are too large", code="invalid_bounds")
    return lo, hi


def _check_count(count: object) -> int:
    if not _is_int(count) or int(count) < 0:  # type: ignore[call-overload]
        raise InvalidInput(f"count must be a non-negative integer, got {count!r}",
                           code="invalid_count")
    return int(count)  # type: ignore[call-overload]


@lru_cache(maxsize=4096)
def _sum_sensitivity(lower: int | float, upper: int | float, integer: bool) -> int | float:
    """How much one added or removed row can move the clamped sum, as OpenDP proves it."""
    if integer:
        domain = dp.atom_domain(bounds=(int(lower), int(upper)), T="i64")
    else:
        domain = dp.atom_domain(bounds=(float(lower), float(upper)), T="f64")
    return dp.t.make_sum(dp.vector_domain(domain), dp.symmetric_distance()).map(1)  # type: ignore[no-any-return]


@lru_cache(maxsize=4096)
def _laplace(sensitivity: int | float, epsilon: float,
             integer: bool) -> tuple[dp.Measurement, float]:
    """The Laplace measurement over a vector (L1 distance) that spends at most ε at distance
    `sensitivity`, and its scale.

    scale = sensitivity/ε can come out one ulp too small for OpenDP's (rounded-up) privacy
    map, so the scale is nudged upwards until OpenDP itself certifies ε.
    """
    if integer:
        domain, metric = dp.atom_domain(T="i64"), dp.l1_distance(T="i64")
    else:
        domain, metric = dp.atom_domain(T="f64", nan=False), dp.l1_distance(T="f64")
    scale = sensitivity / epsilon
    if not math.isfinite(scale):
        raise InvalidInput("epsilon is too small for these bounds: the noise would be infinite",
                           code="invalid_epsilon")
    for _ in range(64):
        m = dp.m.make_laplace(dp.vector_domain(domain), metric, scale)
        if m.map(sensitivity) <= epsilon:
            return m, scale
        scale = math.nextafter(scale, math.inf) * (1 + 1e-15)
    raise AssertionError("OpenDP did not certify the Laplace scale")  # pragma: no cover


def _contributions(value: object) -> int:
    """How many rows one privacy unit may contribute (1: the unit is the row)."""
    if not _is_int(value) or not 1 <= int(value) <= 1_000_000:  # type: ignore[call-overload]
        raise InvalidInput("contributions must be a whole number from 1 to 1,000,000",
                           code="invalid_bounds")
    return int(value)  # type: ignore[call-overload]


def count_scale(epsilon: float, contributions: int = 1) -> float:
    """The discrete Laplace scale of a noisy count at ε when one unit adds up to
    `contributions` rows (the noise's mean absolute value is about this much for scales
    above ~3)."""
    return _laplace(_contributions(contributions), check_epsilon(epsilon), True)[1]


def _integer_sums(sums: Sequence[object], lower: object, upper: object) -> bool:
    """Integer columns (integer bounds and sums) get integer noise; everything else floats."""
    return (_is_int(lower) and _is_int(upper)
            and max(abs(int(lower)), abs(int(upper))) <= _I64_SAFE  # type: ignore[call-overload]
            and all(_is_int(v) and abs(int(v)) <= _I64_SAFE for v in sums))  # type: ignore[call-overload]


def sum_scale(lower: float, upper: float, epsilon: float, *, integer: bool = False,
              contributions: int = 1) -> float:
    """The Laplace scale of a noisy sum over values in [lower, upper] at ε, one unit adding
    up to `contributions` values."""
    eps = check_epsilon(epsilon)
    lo, hi = check_bounds(lower, upper)
    n = _contributions(contributions)
    if integer and _is_int(lower) and _is_int(upper):
        return _laplace(_sum_sensitivity(int(lower), int(upper), True) * n, eps, True)[1]
    return _laplace(_sum_sensitivity(lo, hi, False) * n, eps, False)[1]


def noisy_counts(true_counts: Sequence[int], epsilon: float,
                 contributions: int = 1) -> list[int]:
    """The counts of the disjoint groups of one GROUP BY, each plus discrete Laplace noise
    of scale contributions/ε; ε covers all of them (one unit adds or removes at most
    `contributions` rows across the groups)."""
    eps = check_epsilon(epsilon)
    n = _contributions(contributions)
    counts = [_check_count(c) for c in true_counts]
    if any(c > _I64_SAFE for c in counts):
        raise InvalidInput("count is too large", code="invalid_count")
    if not counts:
        return []
    measurement, _ = _laplace(n, eps, True)
    return [int(v) for v in measurement(counts)]


def noisy_count(true_count: int, epsilon: float) -> int:
    """COUNT(*) (or COUNT(col)) plus discrete Laplace noise of scale 1/ε.

    The result can be negative for tiny counts; callers that show counts may clamp at 0
    (post-processing) but must not drop rows by the true count."""
    return noisy_counts([true_count], epsilon)[0]


def noisy_sums(clamped_sums: Sequence[float], lower: float, upper: float,
               epsilon: float, contributions: int = 1) -> list[float]:
    """The clamped sums of the disjoint groups of one GROUP BY, each plus Laplace noise;
    ε covers all of them. Integer sums with integer bounds get integer noise and stay ints."""
    eps = check_epsilon(epsilon)
    lo, hi = check_bounds(lower, upper)
    n = _contributions(contributions)
    values = [_finite("clamped_sum", v, "invalid_value") for v in clamped_sums]
    if not values:
        return []
    if _integer_sums(clamped_sums, lower, upper):
        sensitivity = _sum_sensitivity(int(lower), int(upper), True) * n  # type: ignore[call-overload]
        exact = [int(v) for v in clamped_sums]  # type: ignore[call-overload]
        if sensitivity == 0:
            return exact  # type: ignore[return-value]
        measurement, _ = _laplace(sensitivity, eps, True)
        return [int(v) for v in measurement(exact)]
    sensitivity = _sum_sensitivity(lo, hi, False) * n
    if sensitivity == 0:
        return values
    measurement, _ = _laplace(sensitivity, eps, False)
    return [float(v) for v in measurement(values)]


def noisy_sum(clamped_sum: float, lower: float, upper: float, epsilon: float) -> float:
    """SUM over values the caller clamped to [lower, upper], plus Laplace noise.

    When the sum and both bounds are integers the noise is discrete and the result is an int
    (integer columns stay integers); otherwise it is a float."""
    return noisy_sums([clamped_sum], lower, upper, epsilon)[0]


@dataclass(frozen=True)
class AvgRelease:
    """A noisy average with the two noisy parts it came from (all safe to publish)."""

    value: float
    noisy_sum: float
    noisy_count: int
    lower: float
    upper: float
    epsilon: float
    integer: bool
    contributions: int = 1


def noisy_avg_releases(clamped_sums: Sequence[float], counts: Sequence[int], lower: float,
                       upper: float, epsilon: float,
                       contributions: int = 1) -> list[AvgRelease]:
    """AVG for each disjoint group: noisy_sums(ε/2) / noisy_counts(ε/2), clamped to
    [lower, upper]. `counts` are the numbers of values summed (COUNT(col), not COUNT(*)).

    A noisy count below 1 says the group is (nearly) empty: the midpoint of the bounds is
    returned, which depends on the data only through the noisy count."""
    eps = check_epsilon(epsilon)
    lo, hi = check_bounds(lower, upper)
    ns = [_check_count(c) for c in counts]
    totals = [_finite("clamped_sum", v, "invalid_value") for v in clamped_sums]
    if len(ns) != len(totals):
        raise InvalidInput("one count per sum is needed", code="invalid_count")
    for total, n in zip(totals, ns, strict=True):
        # A sum no clamped column could give means the caller forgot to clamp: refusing it
        # keeps the noise honest (the sensitivity assumes clamping). Slack for float sums.
        slack = 1e-9 * max(1.0, abs(lo), abs(hi)) * max(n, 1)
        if not (lo * n - slack <= total <= hi * n + slack):
            raise InvalidInput("the sum is outside count × [lower, upper]: values were not "
                               "clamped", code="unclamped_sum")
    sums = noisy_sums(clamped_sums, lower, upper, eps / 2, contributions)
    noisy_ns = noisy_counts(ns, eps / 2, contributions)
    integer = _integer_sums(clamped_sums, lower, upper)
    return [AvgRelease(value=(lo + hi) / 2 if c < 1 else min(hi, max(lo, s / c)),
                       noisy_sum=s, noisy_count=c, lower=lo, upper=hi, epsilon=eps,
                       integer=integer, contributions=contributions)
            for s, c in zip(sums, noisy_ns, strict=True)]


def noisy_avg_release(clamped_sum: float, count: int, lower: float, upper: float,
                      epsilon: float) -> AvgRelease:
    """AVG as noisy_sum(ε/2) / noisy_count(ε/2), with the parts (see `noisy_avg_releases`)."""
    return noisy_avg_releases([clamped_sum], [count], lower, upper, epsilon)[0]


def noisy_avg(clamped_sum: float, count: int, lower: float, upper: float,
              epsilon: float) -> float:
    """AVG over values clamped to [lower, upper]: ε is split evenly between a noisy sum and
    a noisy count (see `noisy_avg_release` for the parts and `accuracy.avg_interval`)."""
    return noisy_avg_release(clamped_sum, count, lower, upper, epsilon).value
