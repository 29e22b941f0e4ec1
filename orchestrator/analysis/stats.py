"""Small-sample statistics for repeated runs: mean, standard deviation, Student's t interval,
ratio of two means with its interval.

No SciPy: Student's t distribution is computed here from the regularized incomplete beta
function (continued fraction, Lentz's method) and its quantile by bisection, to about 1e-10.

With one value there is no spread to estimate: `stdev` and every interval are None, never a
made-up number.

Ratio of means (target / baseline, e.g. throughput of a mode against the normal one): Fieller's
interval for two independent samples. It is the set of ratios R for which
`(mean_x - R * mean_y)^2 <= t^2 * (var_x / n_x + R^2 * var_y / n_y)`, with t Student's
quantile for Welch–Satterthwaite's degrees of freedom of `mean_x - R * mean_y` at the point
estimate. When the denominator's mean is not clearly away from zero (`g >= 1`) the set is not
a finite interval and `low`/`high` are None (`bounded` False).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean of no values")
    return math.fsum(values) / len(values)


def stdev(values: Sequence[float]) -> float | None:
    """Sample standard deviation (n - 1), None for fewer than two values."""
    n = len(values)
    if n < 2:
        return None
    centre = mean(values)
    return math.sqrt(math.fsum((v - centre) ** 2 for v in values) / (n - 1))


# -- Student's t --------------------------------------------------------------------------------


def _betacf(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom (df > 0, may be fractional)."""
    if df <= 0:
        raise ValueError("degrees of freedom must be positive")
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The t with P(T <= t) = p (0 < p < 1)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be strictly between 0 and 1")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, high * 2.0
        if high > 1e12:
            return math.inf
    for _ in range(200):
        middle = (low + high) / 2.0
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
        if high - low <= 1e-12 * max(1.0, high):
            break
    return (low + high) / 2.0


# -- summaries ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    level: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0


@dataclass(frozen=True)
class Summary:
    n: int
    mean: float | None
    stdev: float | None
    interval: Interval | None  # None for n < 2

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "mean": self.mean,
            "stdev": self.stdev,
            "ci_low": self.interval.low if self.interval else None,
            "ci_high": self.interval.high if self.interval else None,
            "ci_level": self.interval.level if self.interval else None,
        }


def confidence_interval(values: Sequence[float], level: float = 0.95) -> Interval | None:
    """Student's t interval for the mean; None for fewer than two values."""
    n = len(values)
    spread = stdev(values)
    if spread is None:
        return None
    centre = mean(values)
    half = t_quantile((1.0 + level) / 2.0, n - 1) * spread / math.sqrt(n)
    return Interval(centre - half, centre + half, level)


def describe(values: Sequence[float], level: float = 0.95) -> Summary:
    n = len(values)
    if n == 0:
        return Summary(0, None, None, None)
    return Summary(n, mean(values), stdev(values), confidence_interval(values, level))


@dataclass(frozen=True)
class Ratio:
    """mean(numerator) / mean(denominator) with Fieller's interval (see the module text)."""

    ratio: float
    low: float | None
    high: float | None
    level: float
    bounded: bool
    df: float | None
    method: str = "fieller"

    def as_dict(self) -> dict[str, object]:
        return {
            "ratio": self.ratio,
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "bounded": self.bounded,
            "df": self.df,
            "method": self.method,
        }


def ratio_of_means(
    numerator: Sequence[float], denominator: Sequence[float], level: float = 0.95
) -> Ratio:
    """The ratio of two independent samples' means with Fieller's interval.

    Fewer than two values on either side: the ratio alone, no interval.
    """
    a = mean(numerator)
    b = mean(denominator)
    if b == 0.0:
        raise ValueError("the denominator's mean is zero: no ratio")
    ratio = a / b
    sx, sy = stdev(numerator), stdev(denominator)
    if sx is None or sy is None:
        return Ratio(ratio, None, None, level, False, None)
    nx, ny = len(numerator), len(denominator)
    v11 = sx * sx / nx
    v22 = sy * sy / ny
    variance = v11 + ratio * ratio * v22
    if variance == 0.0:
        return Ratio(ratio, ratio, ratio, level, True, math.inf)
    df = variance**2 / (v11**2 / (nx - 1) + (ratio**2 * v22) ** 2 / (ny - 1))
    t = t_quantile((1.0 + level) / 2.0, df)
    # (a - R b)^2 <= t^2 (v11 + R^2 v22)  <=>  A R^2 + B R + C <= 0
    quad_a = b * b - t * t * v22
    if quad_a <= 0.0:
        return Ratio(ratio, None, None, level, False, df)
    quad_b = -2.0 * a * b
    quad_c = a * a - t * t * v11
    root = math.sqrt(max(quad_b * quad_b - 4.0 * quad_a * quad_c, 0.0))
    low = (-quad_b - root) / (2.0 * quad_a)
    high = (-quad_b + root) / (2.0 * quad_a)
    return Ratio(ratio, low, high, level, True, df)
