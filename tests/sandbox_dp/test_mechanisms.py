"""The noise is really there, has the documented spread, respects the bounds, and bad
parameters are refused.

OpenDP draws from a CSPRNG that cannot be seeded, so these are statistical checks with
many draws and bounds that are many standard errors wide (a false failure is far less
likely than one in a million), yet far narrower than missing noise or noise 10x too big.
"""

from __future__ import annotations

import math
import random
import statistics
from decimal import Decimal

import opendp.prelude as dp
import pytest

from shugu.errors import InvalidInput
from shugu.sandbox.dp import accuracy, mechanisms
from shugu.sandbox.dp.mechanisms import (
    noisy_avg,
    noisy_avg_releases,
    noisy_count,
    noisy_counts,
    noisy_sum,
    noisy_sums,
)

DRAWS = 4000


def spread(values: list[float], truth: float) -> tuple[float, float]:
    """(mean error, standard deviation) of the draws around the truth."""
    return statistics.fmean(v - truth for v in values), statistics.pstdev(values)


def assert_laplace_like(values: list[float], truth: float, scale: float) -> None:
    # Laplace(b): standard deviation b·√2; the sample s.d. of 4000 draws is within ~2% of it.
    mean_err, sd = spread(values, truth)
    expected = scale * math.sqrt(2)
    assert 0.8 * expected < sd < 1.25 * expected, (sd, expected)
    assert abs(mean_err) < 6 * expected / math.sqrt(len(values)), mean_err
    assert len(set(values)) >= 10  # real noise, not a few fixed offsets


def test_count_noise_has_scale_one_over_epsilon() -> None:
    for epsilon in (0.1, 0.02):
        assert mechanisms.count_scale(epsilon) == pytest.approx(1 / epsilon, rel=1e-9)
        draws = [noisy_count(1000, epsilon) for _ in range(DRAWS)]
        assert all(isinstance(d, int) for d in draws)
        assert_laplace_like(draws, 1000, 1 / epsilon)


def test_count_margin_covers_95_percent() -> None:
    epsilon = 0.1
    margin = accuracy.count_margin(epsilon)
    assert margin == pytest.approx(math.log(1 / 0.05) / epsilon, rel=0.05)
    inside = sum(abs(noisy_count(500, epsilon) - 500) <= margin for _ in range(DRAWS)) / DRAWS
    # Binomial s.d. at 95% over 4000 draws is 0.0034.
    assert 0.93 <= inside <= 0.97, inside
    assert accuracy.count_margin(epsilon, 0.99) > margin


def test_large_counts_are_not_truncated_to_32_bits() -> None:
    big = 3 * 2**40
    assert abs(noisy_count(big, 1.0) - big) < 100


@pytest.mark.parametrize(("lower", "upper", "sensitivity"),
                         [(0, 100, 100), (-50, 20, 50), (-7, -3, 7)])
def test_integer_sum_noise_follows_the_bounds(lower: int, upper: int, sensitivity: int) -> None:
    epsilon = 0.5
    scale = mechanisms.sum_scale(lower, upper, epsilon, integer=True)
    assert scale == pytest.approx(sensitivity / epsilon, rel=1e-9)
    # OpenDP's own sum transformation agrees with the sensitivity we documented.
    sum_t = dp.t.make_sum(dp.vector_domain(dp.atom_domain(bounds=(lower, upper), T="i64")),
                          dp.symmetric_distance())
    assert sum_t.map(1) == sensitivity
    draws = [noisy_sum(12345, lower, upper, epsilon) for _ in range(DRAWS)]
    assert all(isinstance(d, int) for d in draws)
    assert_laplace_like(draws, 12345, scale)


def test_float_sum_noise_follows_the_bounds() -> None:
    epsilon = 1.0
    narrow = [noisy_sum(500.0, 0.0, 10.0, epsilon) for _ in range(DRAWS)]
    wide = [noisy_sum(500.0, 0.0, 1000.0, epsilon) for _ in range(DRAWS)]
    assert all(isinstance(d, float) for d in narrow)
    # Float sensitivity includes OpenDP's rounding allowance, so slightly above the bound.
    assert 10.0 <= mechanisms.sum_scale(0.0, 10.0, epsilon) < 10.001
    assert_laplace_like(narrow, 500.0, 10.0)
    assert_laplace_like(wide, 500.0, 1000.0)
    inside = sum(abs(d - 500.0) <= accuracy.sum_margin(0, 1000, epsilon) for d in wide) / DRAWS
    assert 0.93 <= inside <= 0.97, inside


def test_mixed_types_take_the_float_path() -> None:
    assert isinstance(noisy_sum(10, 0.0, 5.0, 1.0), float)
    assert isinstance(noisy_sum(10.0, 0, 5, 1.0), float)
    # A sum too large for OpenDP's 64-bit integers is released as a float, not wrapped.
    huge = 2**70
    assert abs(noisy_sum(huge, 0, 2**40, 1.0) - huge) / huge < 1e-6


def test_zero_width_bounds_need_no_noise() -> None:
    assert noisy_sum(0, 0, 0, 1.0) == 0


def test_the_laplace_scale_is_certified_by_opendp() -> None:
    rng = random.Random(7)
    for _ in range(200):
        epsilon = rng.uniform(0.001, 10)
        for sensitivity, integer in ((1, True), (rng.randint(1, 10**6), True),
                                     (rng.uniform(0.1, 1e6), False)):
            measurement, scale = mechanisms._laplace(sensitivity, epsilon, integer)
            assert measurement.map(sensitivity) <= epsilon
            assert scale == pytest.approx(sensitivity / epsilon, rel=1e-12)


def test_avg_splits_epsilon_and_stays_in_bounds() -> None:
    count, total, epsilon = 10_000, 50_000.0, 1.0
    draws = [mechanisms.noisy_avg_release(total, count, 0, 10, epsilon) for _ in range(DRAWS)]
    # ε/2 each: sum noise scale 10/0.5 = 20, count noise scale 1/0.5 = 2; by the delta
    # method the average's s.d. is √((20√2)² + (5·2√2)²) / 10000.
    expected = math.sqrt((20 * math.sqrt(2)) ** 2 + (5 * 2 * math.sqrt(2)) ** 2) / count
    sd = statistics.pstdev(d.value for d in draws)
    assert 0.8 * expected < sd < 1.25 * expected, (sd, expected)
    assert_laplace_like([d.noisy_count for d in draws], count, 2.0)
    assert_laplace_like([d.noisy_sum for d in draws], total, 20.0)
    covered = 0
    for d in draws:
        low, high = accuracy.avg_interval(d)
        assert 0 <= low <= d.value <= high <= 10
        covered += low <= 5.0 <= high
    assert covered / DRAWS >= 0.95  # the interval is conservative (union bound)


def test_avg_of_a_tiny_group_is_clamped_to_the_bounds() -> None:
    values = [noisy_avg(9, 1, 0, 10, 0.05) for _ in range(500)]
    assert all(0 <= v <= 10 for v in values)
    assert len(set(values)) > 3  # noisy, not a constant
    # An empty group: the noisy count decides, the answer stays in the bounds.
    assert all(-1.0 <= noisy_avg(0.0, 0, -1.0, 1.0, 0.001) <= 1.0 for _ in range(200))


def test_group_by_forms_noise_every_group_independently() -> None:
    groups = 8
    counts = [100 * (g + 1) for g in range(groups)]
    draws = [noisy_counts(counts, 0.1) for _ in range(DRAWS // 4)]
    assert all(len(d) == groups and all(isinstance(v, int) for v in d) for d in draws)
    for g in (0, groups - 1):
        assert_laplace_like([d[g] for d in draws], counts[g], 10.0)
    # Independent noise per group: the errors of two groups are uncorrelated.
    errors = [(d[0] - counts[0], d[1] - counts[1]) for d in draws]
    assert abs(statistics.correlation(*zip(*errors, strict=True))) < 0.2
    sums = noisy_sums([10.0, 20.0, 30.0], 0.0, 5.0, 1.0)
    assert len(sums) == 3 and all(isinstance(v, float) for v in sums)
    assert [type(v) for v in noisy_sums([10, 20], 0, 5, 1.0)] == [int, int]
    releases = noisy_avg_releases([1000, 0], [400, 0], 0, 5, 1.0)
    assert all(0 <= r.value <= 5 for r in releases) and releases[0].integer
    assert noisy_counts([], 1.0) == [] and noisy_sums([], 0, 1, 1.0) == []
    with pytest.raises(InvalidInput) as info:
        noisy_avg_releases([1.0, 2.0], [1], 0, 5, 1.0)
    assert info.value.code == "invalid_count"
    with pytest.raises(InvalidInput) as info:
        noisy_counts([3, -1], 1.0)
    assert info.value.code == "invalid_count"


def test_avg_refuses_an_unclamped_sum() -> None:
    with pytest.raises(InvalidInput) as info:
        noisy_avg(2000, 10, 0, 10, 1.0)
    assert info.value.code == "unclamped_sum"
    with pytest.raises(InvalidInput):
        noisy_avg(-1.0, 10, 0.0, 10.0, 1.0)
    noisy_avg(100.0000000001, 10, 0.0, 10.0, 1.0)  # float summation slack is tolerated


BAD_EPSILONS = [0, -1, 0.0, -1e-9, math.nan, math.inf, "1", None, True]


@pytest.mark.parametrize("epsilon", BAD_EPSILONS)
def test_bad_epsilon_is_refused(epsilon: object) -> None:
    for call in (lambda: noisy_count(10, epsilon),  # type: ignore[arg-type]
                 lambda: noisy_sum(10, 0, 5, epsilon),  # type: ignore[arg-type]
                 lambda: noisy_avg(10, 5, 0, 5, epsilon),  # type: ignore[arg-type]
                 lambda: accuracy.count_margin(epsilon)):  # type: ignore[arg-type]
        with pytest.raises(InvalidInput) as info:
            call()
        assert info.value.code == "invalid_epsilon"


def test_epsilon_too_small_for_the_bounds_is_refused() -> None:
    for call in (lambda: noisy_sum(1.0, 0.0, 1e300, 1e-300),
                 lambda: noisy_count(1, 5e-324),
                 lambda: accuracy.sum_margin(0.0, 1e300, 1e-10)):
        with pytest.raises(InvalidInput) as info:
            call()
        assert info.value.code == "invalid_epsilon"


@pytest.mark.parametrize(("lower", "upper"),
                         [(5, 1), (0, math.inf), (-math.inf, 0), (math.nan, 1), (0, "9"),
                          (0, 1e301), (None, 1)])
def test_bad_bounds_are_refused(lower: object, upper: object) -> None:
    for call in (lambda: noisy_sum(1, lower, upper, 1.0),  # type: ignore[arg-type]
                 lambda: noisy_avg(1, 1, lower, upper, 1.0),  # type: ignore[arg-type]
                 lambda: accuracy.sum_margin(lower, upper, 1.0)):  # type: ignore[arg-type]
        with pytest.raises(InvalidInput) as info:
            call()
        assert info.value.code == "invalid_bounds"


def test_bad_values_are_refused() -> None:
    for count in (-1, 1.5, True, None, 2**63):
        with pytest.raises(InvalidInput) as info:
            noisy_count(count, 1.0)  # type: ignore[arg-type]
        assert info.value.code == "invalid_count"
    with pytest.raises(InvalidInput) as info:
        noisy_avg(1.0, -3, 0, 1, 1.0)
    assert info.value.code == "invalid_count"
    for value in (math.nan, math.inf, -math.inf, "3", None, Decimal("sNaN"), 10**400):
        with pytest.raises(InvalidInput) as info:
            noisy_sum(value, 0, 1, 1.0)  # type: ignore[arg-type]
        assert info.value.code == "invalid_value"
    for confidence in (0, 1, 1.5, -0.1, True):
        with pytest.raises(InvalidInput) as info:
            accuracy.count_margin(1.0, confidence)
        assert info.value.code == "invalid_confidence"
