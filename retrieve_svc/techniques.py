"""Retrieval techniques by name: what a request's ``technique`` selects.

A technique is a search plan: the search mode, whether to rerank, and how the
question is expanded before searching. ``dense``, ``sparse`` and ``hybrid`` are the
plain modes; ``hybrid_rerank`` adds the configured reranker; ``multi_query`` and
``hyde`` ask the LLM first (see :mod:`retrieve_svc.query_expansion`).

How a technique combines with the other options:

- ``dense``, ``sparse``, ``hybrid`` and ``hybrid_rerank`` fix the mode; a request
  ``mode`` that differs is a contradiction. ``hybrid_rerank`` forces reranking, so
  ``rerank: false`` with it is one too.
- ``multi_query`` and ``hyde`` search in the request's ``mode`` (or the service's
  default). ``hyde`` needs an embedding to search with, so not ``sparse``.
- ``rerank``, ``mmr_lambda``, ``min_score`` and ``filters`` apply after the search as
  without a technique (``min_score`` then cuts the fused RRF score of ``multi_query``).

Every refusal is a :class:`~ragbus.errors.PermanentError` with a stable code, which
the gateway answers with HTTP 400: the request, not the service, is at fault.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from ragbus.errors import PermanentError
from ragbus.stores.vectors.base import SearchMode
from retrieve_svc.rerank import RerankUnavailableError
from schemas.queries import RetrievalOptions

Expansion = Literal["none", "multi_query", "hyde"]
"""What happens to the question before the search: nothing, N rewrites, or a drafted passage."""


@dataclass(frozen=True, slots=True)
class Technique:
    """One named technique.

    Attributes:
        name: The name a request gives.
        mode: The mode it always searches in; ``None``: the request's mode.
        rerank: ``True``: always reranks; ``None``: as the request's ``rerank`` says.
        expansion: How the question is expanded; anything but ``none`` needs an LLM.
    """

    name: str
    mode: SearchMode | None
    rerank: bool | None
    expansion: Expansion

    @property
    def needs_llm(self) -> bool:
        """Whether the technique calls the LLM before searching."""
        return self.expansion != "none"


TECHNIQUES: Mapping[str, Technique] = {
    t.name: t
    for t in (
        Technique("dense", "dense", None, "none"),
        Technique("sparse", "sparse", None, "none"),
        Technique("hybrid", "hybrid", None, "none"),
        Technique("hybrid_rerank", "hybrid", True, "none"),
        Technique("multi_query", None, None, "multi_query"),
        Technique("hyde", None, None, "hyde"),
    )
}
"""Every technique a request may name, by name."""


class UnknownTechniqueError(PermanentError):
    """The request names a technique the service does not know."""

    code = "unknown_technique"

    def __init__(self, name: str) -> None:
        known = ", ".join(TECHNIQUES)
        super().__init__(f"unknown technique {name!r}; known techniques: {known}")


class TechniqueUnavailableError(PermanentError):
    """The technique needs an LLM and none is configured."""

    code = "technique_unavailable"

    def __init__(self, name: str) -> None:
        super().__init__(
            f"technique {name!r} needs an LLM and none is configured "
            "(set RAGBUS_LLM_MODEL or RAGBUS_RETRIEVE_LLM_MODEL)"
        )


class TechniqueConflictError(PermanentError):
    """The request's ``mode`` or ``rerank`` contradicts its technique."""

    code = "technique_conflict"


@dataclass(frozen=True, slots=True)
class Plan:
    """How one request is searched, everything resolved.

    Attributes:
        mode: The search mode of every search of the request.
        rerank: Whether the best candidates are reranked.
        expansion: How the question is expanded first.
    """

    mode: SearchMode
    rerank: bool
    expansion: Expansion = "none"


def plan_for(
    options: RetrievalOptions, *, default_mode: SearchMode, reranker: bool, llm: bool
) -> Plan:
    """Resolve a request's technique, mode and rerank into one plan.

    Args:
        options: The request's retrieval options.
        default_mode: The mode of a request that names neither technique nor mode.
        reranker: Whether a reranker is configured.
        llm: Whether an LLM is configured for the expanding techniques.

    Returns:
        The plan; without ``technique`` it is exactly the request's mode and rerank.

    Raises:
        UnknownTechniqueError: ``options.technique`` is not in :data:`TECHNIQUES`.
        TechniqueUnavailableError: It needs an LLM and ``llm`` is false.
        TechniqueConflictError: ``options.mode``/``options.rerank`` contradict it.
        RerankUnavailableError: Reranking is required but ``reranker`` is false.
    """
    mode = options.mode or default_mode
    rerank = options.rerank
    expansion: Expansion = "none"
    if options.technique is not None:
        technique = TECHNIQUES.get(options.technique)
        if technique is None:
            raise UnknownTechniqueError(options.technique)
        if technique.needs_llm and not llm:
            raise TechniqueUnavailableError(technique.name)
        if technique.mode is not None:
            if options.mode not in (None, technique.mode):
                raise TechniqueConflictError(
                    f"technique {technique.name!r} searches in mode {technique.mode!r}, "
                    f"but the request asks for mode {options.mode!r}"
                )
            mode = technique.mode
        if technique.rerank is not None:
            if rerank not in (None, technique.rerank):
                raise TechniqueConflictError(
                    f"technique {technique.name!r} reranks, but the request sets rerank: false"
                )
            rerank = technique.rerank
        if technique.expansion == "hyde" and mode == "sparse":
            raise TechniqueConflictError(
                "technique 'hyde' searches with an embedding of the drafted passage; "
                "use mode 'dense' or 'hybrid', not 'sparse'"
            )
        expansion = technique.expansion
    wants_rerank = reranker if rerank is None else rerank
    if wants_rerank and not reranker:
        raise RerankUnavailableError()
    return Plan(mode=mode, rerank=wants_rerank, expansion=expansion)
