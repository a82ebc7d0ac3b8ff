"""Pure summaries of measured samples: percentiles, rates and per-stage latencies."""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

PERCENTILES = (50, 95, 99)


def percentile(samples: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (linear interpolation, numpy's default) or ``None`` if empty.

    Args:
        samples: Measured values in any unit; the result is in the same unit.
        q: Percentile in ``[0, 100]``.

    Raises:
        ValueError: ``q`` is outside ``[0, 100]``.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    if not samples:
        return None
    return float(np.percentile(np.asarray(samples, dtype=np.float64), q))


def rate(count: float, seconds: float) -> float | None:
    """``count / seconds``, or ``None`` when no time passed (nothing was measured)."""
    return count / seconds if seconds > 0 else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """``numerator / denominator``, ``None`` if either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def latency_summary(latencies_ms: Sequence[float], errors: int, elapsed_s: float) -> dict[str, Any]:
    """What ``ragbus bench query`` reports for one mode and concurrency.

    Args:
        latencies_ms: Latency of every successful request, in milliseconds.
        errors: Requests that failed (HTTP error status, timeout or connection error).
        elapsed_s: Wall-clock seconds the load ran for.

    Returns:
        ``{"requests", "errors", "qps", "p50_ms", "p95_ms", "p99_ms"}``; ``qps`` counts
        successful requests per second of wall clock.
    """
    summary: dict[str, Any] = {
        "requests": len(latencies_ms),
        "errors": errors,
        "qps": rate(len(latencies_ms), elapsed_s),
    }
    for q in PERCENTILES:
        summary[f"p{q}_ms"] = percentile(latencies_ms, q)
    return summary


def stage_summary(stages: Mapping[str, Sequence[float]]) -> dict[str, dict[str, float | None]]:
    """p50 and p95, in milliseconds, of every stage's per-document durations (seconds)."""
    return {
        name: {
            "p50_ms": _ms(percentile(durations, 50)),
            "p95_ms": _ms(percentile(durations, 95)),
            "documents": len(durations),
        }
        for name, durations in stages.items()
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0
