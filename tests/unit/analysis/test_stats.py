"""Statistics against textbook values."""

from __future__ import annotations

import math

import pytest

from orchestrator.analysis.stats import (
    betainc,
    confidence_interval,
    describe,
    mean,
    ratio_of_means,
    stdev,
    t_cdf,
    t_quantile,
)

# Student's t, two-sided 95 % (the 0.975 quantile), from any statistics table.
T_TABLE = {
    1: 12.7062047,
    2: 4.3026527,
    3: 3.1824463,
    4: 2.7764451,
    5: 2.5705818,
    9: 2.2621572,
    10: 2.2281389,
    20: 2.0859634,
    30: 2.0422725,
    100: 1.9839715,
}

# Student's own data (Biometrika 1908; R's `sleep`): extra hours of sleep, drug 2 - drug 1.
SLEEP_DIFF = [1.2, 2.4, 1.3, 1.3, 0.0, 1.0, 1.8, 0.8, 4.6, 1.4]


@pytest.mark.parametrize(("df", "value"), sorted(T_TABLE.items()))
def test_t_quantiles(df, value):
    assert t_quantile(0.975, df) == pytest.approx(value, abs=1e-6)
    assert t_quantile(0.025, df) == pytest.approx(-value, abs=1e-6)
    assert t_cdf(value, df) == pytest.approx(0.975, abs=1e-8)


def test_other_levels_and_limits():
    assert t_quantile(0.95, 10) == pytest.approx(1.8124611, abs=1e-6)
    assert t_quantile(0.995, 5) == pytest.approx(4.0321430, abs=1e-6)
    assert t_quantile(0.975, 1e7) == pytest.approx(1.959964, abs=1e-5)
    assert t_quantile(0.5, 3) == 0.0
    assert t_cdf(0.0, 4) == pytest.approx(0.5)
    assert t_cdf(1.0, 1) == pytest.approx(0.75)  # Cauchy: 1/2 + atan(1)/pi
    assert betainc(2.0, 3.0, 0.4) == pytest.approx(
        0.5248
    )  # 1 - sum binomial(4, k) .4^k .6^(4-k), k<2
    with pytest.raises(ValueError):
        t_quantile(1.0, 3)


def test_student_sleep_data():
    summary = describe(SLEEP_DIFF)
    assert summary.n == 10
    assert summary.mean == pytest.approx(1.58)
    assert summary.stdev == pytest.approx(1.229995, abs=1e-6)
    # R: t.test(extra ~ group, data = sleep, paired = TRUE) -> 95 % CI 0.7001142 2.4598858
    assert summary.interval.low == pytest.approx(0.7001142, abs=1e-7)
    assert summary.interval.high == pytest.approx(2.4598858, abs=1e-7)


def test_one_value_has_no_interval():
    summary = describe([3.5])
    assert (summary.mean, summary.stdev, summary.interval) == (3.5, None, None)
    assert confidence_interval([3.5]) is None
    assert stdev([1.0]) is None
    assert describe([]).mean is None
    assert summary.as_dict()["ci_low"] is None
    with pytest.raises(ValueError):
        mean([])


def test_ratio_interval_solves_fieller_equation():
    x = [10.0, 11.0, 12.0, 10.5]
    y = [5.0, 5.5, 4.8, 5.2]
    result = ratio_of_means(x, y)
    assert result.ratio == pytest.approx(mean(x) / mean(y))
    assert result.bounded and result.low < result.ratio < result.high
    vx, vy = stdev(x) ** 2 / 4, stdev(y) ** 2 / 4
    t = t_quantile(0.975, result.df)
    for r in (result.low, result.high):  # both ends are roots of the defining equation
        assert (mean(x) - r * mean(y)) ** 2 == pytest.approx(t * t * (vx + r * r * vy))
    df = (vx + result.ratio**2 * vy) ** 2 / (vx**2 / 3 + (result.ratio**2 * vy) ** 2 / 3)
    assert result.df == pytest.approx(df)


def test_ratio_with_exact_denominator_is_the_t_interval_scaled():
    x = [10.0, 11.0, 12.0, 10.5]
    result = ratio_of_means(x, [4.0, 4.0, 4.0])
    interval = confidence_interval(x)
    assert result.low == pytest.approx(interval.low / 4.0)
    assert result.high == pytest.approx(interval.high / 4.0)


def test_ratio_without_enough_values_or_with_a_vague_denominator():
    single = ratio_of_means([5.0], [2.0, 2.2])
    assert single.ratio == pytest.approx(5.0 / 2.1)
    assert (single.low, single.high, single.bounded) == (None, None, False)
    vague = ratio_of_means([1.0, 1.1, 0.9], [0.1, -0.1, 0.3])
    assert not vague.bounded and vague.low is None
    with pytest.raises(ValueError):
        ratio_of_means([1.0, 2.0], [1.0, -1.0])
    exact = ratio_of_means([2.0, 2.0], [1.0, 1.0])
    assert (exact.low, exact.high) == (2.0, 2.0)
    assert math.isinf(exact.df)
