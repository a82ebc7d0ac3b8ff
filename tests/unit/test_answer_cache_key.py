"""The answer cache key: which requests share an entry and which never do."""

import uuid

import pytest

from gateway.answer_cache import cache_key, normalise_question
from schemas import QueryRequested
from schemas.queries import RetrievalFilters


def _event(question: str = "How do I stop a child process?", **kw) -> QueryRequested:
    return QueryRequested(tenant_id="t", query_id=uuid.uuid4(), question=question, **kw)


@pytest.mark.parametrize(
    "variant",
    [
        "how do i stop a child process",
        "  HOW do I   stop a child\tprocess ?! ",
        "How do I stop a child process...",
        "How do I stop a child process\uff1f",
    ],
)
def test_case_spacing_and_end_punctuation_do_not_matter(variant: str) -> None:
    assert normalise_question(variant) == "how do i stop a child process"
    assert cache_key(_event(variant), None) == cache_key(_event(), None)


def test_inner_wording_and_punctuation_matter() -> None:
    base = cache_key(_event(), None)
    assert cache_key(_event("How do I start a child process?"), None) != base
    assert cache_key(_event("How do I stop a child-process?"), None) != base


def test_the_query_id_and_tenant_are_not_part_of_the_key() -> None:
    # Entries are stored per tenant; the key itself is the question and options.
    one = _event()
    other = one.model_copy(update={"tenant_id": "u", "query_id": uuid.uuid4()})
    assert cache_key(one, None) == cache_key(other, None)


@pytest.mark.parametrize(
    "options",
    [
        {"top_k": 3},
        {"mode": "dense"},
        {"mode": "sparse"},
        {"filters": RetrievalFilters(metadata={"team": "ops"})},
        {"filters": RetrievalFilters(document_ids=[uuid.uuid4()])},
        {"min_score": 0.3},
        {"mmr_lambda": 0.5},
        {"rerank": False},
    ],
)
def test_every_retrieval_option_separates_entries(options: dict) -> None:
    assert cache_key(_event(**options), None) != cache_key(_event(), None)


def test_the_answering_model_separates_entries() -> None:
    event = _event()
    keys = {cache_key(event, None), cache_key(event, "gpt-4o-mini"), cache_key(event, "o3")}
    assert len(keys) == 3
    assert cache_key(event, None) == cache_key(event, "extractive")
