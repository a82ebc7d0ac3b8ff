"""The technique registry: how technique, mode and rerank resolve, and each refusal."""

import pytest

from retrieve_svc.query_expansion import parse_queries
from retrieve_svc.rerank import RerankUnavailableError
from retrieve_svc.techniques import (
    TECHNIQUES,
    Plan,
    TechniqueConflictError,
    TechniqueUnavailableError,
    UnknownTechniqueError,
    plan_for,
)
from schemas.queries import RetrievalOptions

pytestmark = pytest.mark.unit


def plan(reranker: bool = True, llm: bool = True, **options: object) -> Plan:
    return plan_for(RetrievalOptions(**options), default_mode="hybrid", reranker=reranker, llm=llm)


def test_the_registry_holds_the_six_techniques() -> None:
    assert list(TECHNIQUES) == ["dense", "sparse", "hybrid", "hybrid_rerank", "multi_query", "hyde"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, Plan("hybrid", True)),  # a configured reranker reranks by default
        ({"mode": "sparse", "rerank": False}, Plan("sparse", False)),
        ({"technique": "dense"}, Plan("dense", True)),
        ({"technique": "sparse", "rerank": False}, Plan("sparse", False)),
        ({"technique": "hybrid", "mode": "hybrid"}, Plan("hybrid", True)),
        ({"technique": "hybrid_rerank", "rerank": True}, Plan("hybrid", True)),
        ({"technique": "multi_query"}, Plan("hybrid", True, "multi_query")),
        ({"technique": "multi_query", "mode": "sparse"}, Plan("sparse", True, "multi_query")),
        ({"technique": "hyde", "mode": "dense", "rerank": False}, Plan("dense", False, "hyde")),
    ],
)
def test_technique_mode_and_rerank_combine(options: dict, expected: Plan) -> None:
    assert plan(**options) == expected


def test_without_a_reranker_nothing_is_reranked_unless_asked() -> None:
    assert plan(reranker=False, technique="hybrid") == Plan("hybrid", False)
    with pytest.raises(RerankUnavailableError):
        plan(reranker=False, technique="hybrid_rerank")
    with pytest.raises(RerankUnavailableError):
        plan(reranker=False, technique="dense", rerank=True)


def test_an_unknown_technique_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(UnknownTechniqueError) as refused:
        plan(technique="colbert")
    assert refused.value.code == "unknown_technique"
    assert str(refused.value) == (
        "unknown technique 'colbert'; known techniques: "
        "dense, sparse, hybrid, hybrid_rerank, multi_query, hyde"
    )


@pytest.mark.parametrize("name", ["multi_query", "hyde"])
def test_an_llm_technique_without_an_llm_is_refused(name: str) -> None:
    with pytest.raises(TechniqueUnavailableError) as refused:
        plan(llm=False, technique=name)
    assert refused.value.code == "technique_unavailable"
    assert name in str(refused.value) and "RAGBUS_LLM_MODEL" in str(refused.value)
    assert plan(llm=False, technique="hybrid").expansion == "none"  # others need none


@pytest.mark.parametrize(
    "options",
    [
        {"technique": "dense", "mode": "sparse"},
        {"technique": "hybrid_rerank", "mode": "dense"},
        {"technique": "hybrid_rerank", "rerank": False},
        {"technique": "hyde", "mode": "sparse"},
    ],
)
def test_contradicting_options_are_refused(options: dict) -> None:
    with pytest.raises(TechniqueConflictError) as refused:
        plan(**options)
    assert refused.value.code == "technique_conflict"


def test_parse_queries_strips_numbering_and_drops_repeats() -> None:
    reply = (
        '1. "vitamin D fracture risk"\n\n- Vitamin D and fractures?\n'
        "2) cholecalciferol bone fracture\nQ3: VITAMIN D FRACTURE RISK\n* calcium intake\n"
    )
    queries = parse_queries(reply, "Vitamin D and fractures?", 3)
    assert queries == [
        "vitamin D fracture risk",
        "cholecalciferol bone fracture",
        "calcium intake",
    ]
    assert parse_queries("", "q", 3) == []


def test_the_llm_is_generate_s_unless_retrieve_names_its_own(monkeypatch) -> None:
    from retrieve_svc.app import build_expander
    from retrieve_svc.query_expansion import LiteLLMQueryExpander
    from retrieve_svc.settings import RetrieveSettings

    for name in ("MODEL", "FALLBACK_MODELS", "API_BASE", "API_KEY", "TIMEOUT_S"):
        monkeypatch.delenv(f"RAGBUS_RETRIEVE_LLM_{name}", raising=False)
    monkeypatch.setenv("RAGBUS_LLM_MODEL", "openai/shared")
    monkeypatch.setenv("RAGBUS_LLM_FALLBACK_MODELS", "openai/a, openai/b")
    monkeypatch.setenv("RAGBUS_LLM_TIMEOUT_S", "60")  # generate's: answers may take long
    shared = RetrieveSettings()
    assert (shared.llm_model, shared.llm_fallback_models) == (
        "openai/shared",
        ["openai/a", "openai/b"],
    )
    assert shared.llm_timeout_s == 10.0
    expander = build_expander(shared)
    assert isinstance(expander, LiteLLMQueryExpander)
    assert expander.models == ["openai/shared", "openai/a", "openai/b"]
    monkeypatch.setenv("RAGBUS_RETRIEVE_LLM_MODEL", "openai/own")
    assert RetrieveSettings().llm_model == "openai/own"
    assert build_expander(RetrieveSettings(llm_model=None)) is None
