"""Re-export of :mod:`ragbus.llm_calls`, where the resilient provider calls now live.

retrieve_svc's ``multi_query`` and ``hyde`` techniques call the LLM the same way as
generate_svc, so the code moved to ``ragbus``; this name keeps existing imports working.
"""

from ragbus.llm_calls import (
    Attempt,
    Classify,
    GenerationStats,
    RetryPolicy,
    retry_after_s,
    with_fallback,
)

__all__ = [
    "Attempt",
    "Classify",
    "GenerationStats",
    "RetryPolicy",
    "retry_after_s",
    "with_fallback",
]
