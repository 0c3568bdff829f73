"""Noisy COUNT, SUM and AVG from exact aggregates, with noise drawn by OpenDP.

The engine computes the exact aggregate (over values clamped to the declared bounds); these
functions add noise calibrated to the aggregate's sensitivity. Neighbouring datasets differ
by adding or removing one row (OpenDP's symmetric distance), so the number of rows is itself
private and no upper bound on it is assumed ("unbounded" DP).

- COUNT: sensitivity 1; discrete Laplace (OpenDP `make_laplace` on i64), scale 1/ε.
- SUM: sensitivity taken from OpenDP's own `make_sum` stability map for the declared bounds
  (max(|lower|, |upper|) for integers; for floats OpenDP adds an allowance for rounding in
  float summation, CSVW22); discrete Laplace for integer columns, Laplace for floats.
- AVG: ε/2 for a noisy sum and ε/2 for a noisy count (sequential composition), then the
  ratio, clamped to the bounds (post-processing costs no privacy).

OpenDP needs only its "contrib" feature here: the Laplace measurement and the sum
transformation are contributed (not yet formally vetted) code. We do not enable
"floating-point" (float Laplace in OpenDP 0.16 is discretised exactly and does not need it)
nor "honest-but-curious" (we pass no Python callbacks into OpenDP).
"""

from __future__ import annotations

import math
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
    f = float(value)
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
    """The Laplace measurement that spends at most ε at distance `sensitivity`, and its scale.

    scale = sensitivity/ε can come out one ulp too small for OpenDP's (rounded-up) privacy
    map, so the scale is nudged upwards until OpenDP itself certifies ε.
    """
    if integer:
        domain, metric = dp.atom_domain(T="i64"), dp.absolute_distance(T="i64")
    else:
        domain, metric = dp.atom_domain(T="f64", nan=False), dp.absolute_distance(T="f64")
    scale = sensitivity / epsilon
    for _ in range(64):
        m = dp.m.make_laplace(domain, metric, scale)
        if m.map(sensitivity) <= epsilon:
            return m, scale
        scale = math.nextafter(scale, math.inf) * (1 + 1e-15)
    raise AssertionError("OpenDP did not certify the Laplace scale")  # pragma: no cover


def count_scale(epsilon: float) -> float:
    """The discrete Laplace scale of a noisy count at ε (the noise's mean absolute value is
    about this much for scales above ~3)."""
    return _laplace(1, check_epsilon(epsilon), True)[1]


def _sum_kind(clamped_sum: object, lower: object, upper: object) -> bool:
    """Integer columns (integer bounds and sum) get integer noise; everything else floats."""
    return (_is_int(clamped_sum) and _is_int(lower) and _is_int(upper)
            and abs(int(clamped_sum)) <= _I64_SAFE  # type: ignore[call-overload]
            and max(abs(int(lower)), abs(int(upper))) <= _I64_SAFE)  # type: ignore[call-overload]


def sum_scale(lower: float, upper: float, epsilon: float, *, integer: bool = False) -> float:
    """The Laplace scale of a noisy sum over values in [lower, upper] at ε."""
    eps = check_epsilon(epsilon)
    lo, hi = check_bounds(lower, upper)
    if integer and _is_int(lower) and _is_int(upper):
        return _laplace(_sum_sensitivity(int(lower), int(upper), True), eps, True)[1]
    return _laplace(_sum_sensitivity(lo, hi, False), eps, False)[1]


def noisy_count(true_count: int, epsilon: float) -> int:
    """COUNT(*) (or COUNT(col)) plus discrete Laplace noise of scale 1/ε.

    The result can be negative for tiny counts; callers that show counts may clamp at 0
    (post-processing) but must not drop rows by the true count."""
    count = _check_count(true_count)
    eps = check_epsilon(epsilon)
    if count > _I64_SAFE:
        raise InvalidInput("count is too large", code="invalid_count")
    measurement, _ = _laplace(1, eps, True)
    return int(measurement(count))


def noisy_sum(clamped_sum: float, lower: float, upper: float, epsilon: float) -> float:
    """SUM over values the caller clamped to [lower, upper], plus Laplace noise.

    When the sum and both bounds are integers the noise is discrete and the result is an int
    (integer columns stay integers); otherwise it is a float."""
    eps = check_epsilon(epsilon)
    lo, hi = check_bounds(lower, upper)
    value = _finite("clamped_sum", clamped_sum, "invalid_value")
    if _sum_kind(clamped_sum, lower, upper):
        sensitivity = _sum_sensitivity(int(lower), int(upper), True)  # type: ignore[call-overload]
        if sensitivity == 0:
            return int(clamped_sum)  # type: ignore[call-overload]
        measurement, _ = _laplace(sensitivity, eps, True)
        return int(measurement(int(clamped_sum)))  # type: ignore[call-overload]
    sensitivity = _sum_sensitivity(lo, hi, False)
    if sensitivity == 0:
        return value
    measurement, _ = _laplace(sensitivity, eps, False)
    return float(measurement(value))


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


def noisy_avg_release(clamped_sum: float, count: int, lower: float, upper: float,
                      epsilon: float) -> AvgRelease:
    """AVG as noisy_sum(ε/2) / noisy_count(ε/2), clamped to [lower, upper].

    A noisy count below 1 says the group is (nearly) empty: the midpoint of the bounds is
    returned, which depends on the data only through the noisy count."""
    eps = check_epsilon(epsilon)
    lo, hi = check_bounds(lower, upper)
    n = _check_count(count)
    total = _finite("clamped_sum", clamped_sum, "invalid_value")
    # A sum no clamped column could give means the caller forgot to clamp: refusing it keeps
    # the noise honest (the sensitivity below assumes clamping). Tolerance for float sums.
    slack = 1e-9 * max(1.0, abs(lo), abs(hi)) * max(n, 1)
    if not (lo * n - slack <= total <= hi * n + slack):
        raise InvalidInput("the sum is outside count × [lower, upper]: values were not clamped",
                           code="unclamped_sum")
    s = noisy_sum(clamped_sum, lower, upper, eps / 2)
    c = noisy_count(n, eps / 2)
    value = (lo + hi) / 2 if c < 1 else min(hi, max(lo, s / c))
    return AvgRelease(value=value, noisy_sum=s, noisy_count=c, lower=lo, upper=hi,
                      epsilon=eps, integer=_sum_kind(clamped_sum, lower, upper))


def noisy_avg(clamped_sum: float, count: int, lower: float, upper: float,
              epsilon: float) -> float:
    """AVG over values clamped to [lower, upper]: ε is split evenly between a noisy sum and
    a noisy count (see `noisy_avg_release` for the parts and `accuracy.avg_interval`)."""
    return noisy_avg_release(clamped_sum, count, lower, upper, epsilon).value
