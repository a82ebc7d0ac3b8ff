"""Bootstrap confidence intervals for per-query metrics (``ragbus eval``, the tuning report).

Queries are the unit of sampling: a metric's mean over N queries is resampled by
drawing N queries with replacement, B times, and the 2.5th and 97.5th percentiles
of the resampled means bound the 95% interval (the percentile bootstrap, Efron &
Tibshirani 1993, ch. 13). Two systems run on the same queries are compared by the
*paired* bootstrap (Sakai 2006; Smucker et al. 2007 find it agrees with the
randomisation test on TREC runs): the same resampled queries are used for both, so
the interval is of the mean per-query difference, and the variation between easy
and hard queries, which both systems share, cancels out. An interval of the
difference that excludes 0 means the two differ beyond resampling noise; it does
not correct for having compared many systems.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

RESAMPLES = 10_000
"""B: resamples per interval; the percentile bounds move by about 0.001 between seeds."""


@dataclass(frozen=True, slots=True)
class Interval:
    """A mean and its 95% percentile-bootstrap interval, in the metric's unit."""

    mean: float
    low: float
    high: float


def _indices(n: int, resamples: int, seed: int) -> npt.NDArray[np.int64]:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def mean_interval(values: npt.ArrayLike, *, resamples: int = RESAMPLES, seed: int = 0) -> Interval:
    """The mean of per-query ``values`` and its 95% bootstrap interval.

    Raises:
        ValueError: ``values`` is empty.
    """
    x = np.asarray(values, dtype=np.float64)
    if not len(x):
        raise ValueError("no values to bootstrap")
    means = x[_indices(len(x), resamples, seed)].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return Interval(float(x.mean()), float(low), float(high))


def paired_difference(
    a: npt.ArrayLike, b: npt.ArrayLike, *, resamples: int = RESAMPLES, seed: int = 0
) -> Interval:
    """Mean of ``a - b`` over the same queries, with its paired 95% bootstrap interval.

    Raises:
        ValueError: The two do not hold the same number of queries, or none.
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape:
        raise ValueError(f"paired values differ in shape: {x.shape} and {y.shape}")
    return mean_interval(x - y, resamples=resamples, seed=seed)
