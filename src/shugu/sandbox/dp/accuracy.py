"""How far a noisy release may be from the truth: "±x at 95%".

Margins come from OpenDP's accuracy functions for the exact scale `mechanisms` uses, so a
margin is the a with P(|noise| > a) ≤ 1 − confidence. They depend only on ε and the declared
bounds, never on the data, so publishing them costs no privacy.
"""

from __future__ import annotations

import math
from functools import lru_cache
from numbers import Integral

import opendp.prelude as dp

from shugu.errors import InvalidInput
from shugu.sandbox.dp.mechanisms import AvgRelease, count_scale, sum_scale

DEFAULT_CONFIDENCE = 0.95


def _alpha(confidence: float) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or \
            not 0 < confidence < 1:
        raise InvalidInput(f"confidence must be between 0 and 1, got {confidence!r}",
                           code="invalid_confidence")
    return 1 - float(confidence)


@lru_cache(maxsize=4096)
def _margin(scale: float, alpha: float, integer: bool) -> float:
    """Cached: OpenDP's accuracy functions cost ~0.1 ms a call, and a GROUP BY asks the
    same question for every group."""
    if scale == 0:
        return 0.0
    if integer:
        return float(dp.discrete_laplacian_scale_to_accuracy(scale, alpha))
    return float(dp.laplacian_scale_to_accuracy(scale, alpha))


def margin_of_scale(scale: float, confidence: float = DEFAULT_CONFIDENCE, *,
                    integer: bool) -> float:
    """The 95% margin of Laplace noise of this scale (discrete when integer)."""
    return _margin(scale, _alpha(confidence), integer)


def count_margin(epsilon: float, confidence: float = DEFAULT_CONFIDENCE,
                 contributions: int = 1) -> float:
    """|noisy_count − count| ≤ this with the given probability."""
    return _margin(count_scale(epsilon, contributions), _alpha(confidence), True)


def sum_margin(lower: float, upper: float, epsilon: float,
               confidence: float = DEFAULT_CONFIDENCE, *, integer: bool = False,
               contributions: int = 1) -> float:
    """|noisy_sum − clamped sum| ≤ this with the given probability (pass integer=True for
    integer columns, whose noise is discrete)."""
    alpha = _alpha(confidence)
    # As in the mechanism: integer noise only when both bounds are integers too.
    integer = integer and all(isinstance(b, Integral) and not isinstance(b, bool)
                              for b in (lower, upper))
    return _margin(sum_scale(lower, upper, epsilon, integer=integer,
                             contributions=contributions), alpha, integer)


def avg_interval(release: AvgRelease,
                 confidence: float = DEFAULT_CONFIDENCE) -> tuple[float, float]:
    """An interval that holds the true average of a non-empty group with the given
    probability, computed from the released noisy parts only.

    The sum and count margins each get half of the allowed failure probability (union
    bound); the average lies between the extreme ratios of the two intervals, and in the
    declared bounds."""
    alpha = _alpha(confidence)
    half = 1 - alpha / 2
    a = sum_margin(release.lower, release.upper, release.epsilon / 2, half,
                   integer=release.integer, contributions=release.contributions)
    b = count_margin(release.epsilon / 2, half, release.contributions)
    lo, hi = release.lower, release.upper
    c_hi = release.noisy_count + b
    if c_hi < 1:
        return lo, hi
    c_lo = max(1.0, release.noisy_count - b)
    ratios = [s / c for s in (release.noisy_sum - a, release.noisy_sum + a)
              for c in (c_lo, c_hi)]
    low, high = max(lo, min(ratios)), min(hi, max(ratios))
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        return lo, hi
    return low, high
