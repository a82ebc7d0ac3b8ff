"""Re-export of :mod:`ragbus.llm_errors` (shared with retrieve_svc's LLM techniques)."""

from ragbus.llm_errors import classify_error

__all__ = ["classify_error"]
