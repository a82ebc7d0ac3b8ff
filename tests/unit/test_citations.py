"""build_citations (one citation per distinct in-range marker) and the prompt numbering."""

import uuid

import pytest

from generate_svc.citations import (
    QUOTE_MAX_CHARS,
    build_citations,
    cited_numbers,
    cited_sentences,
    shorten,
    supporting_quote,
)
from generate_svc.prompts import (
    MIN_CONTEXT_TOKENS,
    NOT_FOUND_ANSWER,
    PROMPT_OVERHEAD_TOKENS,
    SYSTEM_PROMPT,
    build_messages,
    context_budget,
    fit_passages,
    passage_label,
    render_passage,
)
from schemas.queries import Passage

pytestmark = pytest.mark.unit


def passage(i: int, text: str = "") -> Passage:
    return Passage(
        chunk_id=uuid.uuid5(uuid.NAMESPACE_URL, f"chunk-{i}"),
        document_id=uuid.uuid5(uuid.NAMESPACE_URL, f"doc-{i}"),
        filename=f"doc{i}.md",
        title=f"Doc {i}",
        text=text or f"Text of passage {i}.",
        score=1.0 - i / 10,
        page=i,
        heading=f"Heading {i}",
        chunk_index=i,
    )


PASSAGES = [passage(i) for i in range(1, 4)]


def test_one_citation_per_distinct_marker_ordered_by_n() -> None:
    answer = "B is true [3]. A is true [1]. Again [3][1]. And [1, 3]."

    citations = build_citations(answer, PASSAGES)

    assert [c.n for c in citations] == [1, 3]
    first = citations[0]
    assert first.chunk_id == PASSAGES[0].chunk_id
    assert first.document_id == PASSAGES[0].document_id
    assert (first.filename, first.title, first.page, first.heading) == (
        "doc1.md",
        "Doc 1",
        1,
        "Heading 1",
    )
    assert first.score == PASSAGES[0].score
    assert first.quote == "Text of passage 1."


def test_out_of_range_markers_are_ignored() -> None:
    citations = build_citations("Zero [0], four [4], ninety [99], two [2].", PASSAGES)

    assert [c.n for c in citations] == [2]


def test_no_markers_or_no_passages_give_no_citations() -> None:
    assert build_citations("No markers here.", PASSAGES) == []
    assert build_citations("Cites [1].", []) == []


def test_markers_inside_code_are_not_citations() -> None:
    answer = "Read `process.argv[2]` to get the file [1].\n```js\nconst x = a[3];\n```"

    assert cited_numbers(answer) == [1]


def test_adjacent_marker_without_space_counts() -> None:
    assert cited_numbers("Paris is the capital[2].") == [2]


def test_quote_is_shortened_at_a_word_boundary() -> None:
    long = passage(1, "word " * 200)

    quote = build_citations("[1]", [long])[0].quote

    assert quote is not None
    assert len(quote) <= QUOTE_MAX_CHARS
    assert quote.endswith("word…")


def test_shorten_collapses_whitespace_and_keeps_short_text() -> None:
    assert shorten("a\n\n  b\tc") == "a b c"
    assert shorten("x" * 500, 10) == "x" * 9 + "…"


# The numbering contract the LLM prompt shares with build_citations.


def test_build_messages_numbers_passages_by_rank_with_their_source() -> None:
    messages = build_messages("What is B?", PASSAGES)

    assert [m["role"] for m in messages] == ["system", "user"]
    assert "[1]" in messages[0]["content"]
    assert NOT_FOUND_ANSWER in messages[0]["content"]
    user = messages[1]["content"]
    assert "[1] (doc1.md, p. 1, Heading 1)\nText of passage 1." in user
    assert user.index("[1] (") < user.index("[2] (") < user.index("[3] (")
    assert user.endswith("Question: What is B?")


def words(text: str) -> int:
    return len(text.split())


def test_token_budget_drops_the_lowest_ranked_passages_first() -> None:
    passages = [passage(i, "word " * 100) for i in range(1, 6)]
    block = words(render_passage(1, passages[0]))

    blocks = fit_passages(passages, 3 * block + 2, count=words)

    assert [b.split(" ", 1)[0] for b in blocks] == ["[1]", "[2]", "[3]"]
    assert len(fit_passages(passages, 3 * block + 1, count=words)) == 2


def test_token_budget_always_keeps_the_best_passage_cut_to_fit() -> None:
    blocks = fit_passages([passage(1, "y " * 1000)], 100, count=words)

    assert len(blocks) == 1
    assert 90 <= words(blocks[0]) <= 100
    assert blocks[0].startswith("[1] (doc1.md")


def test_context_budget_leaves_room_for_the_answer_and_the_prompt() -> None:
    fixed = words(SYSTEM_PROMPT) + words("What is B?") + PROMPT_OVERHEAD_TOKENS

    assert context_budget(8192, 512, "What is B?", words) == 8192 - 512 - fixed
    assert context_budget(600, 512, "What is B?", words) == MIN_CONTEXT_TOKENS


def test_passage_label_without_page_or_heading_is_the_filename() -> None:
    bare = Passage(
        chunk_id=uuid.uuid4(), document_id=uuid.uuid4(), filename="a.txt", text="t", score=0.1
    )

    assert passage_label(bare) == "a.txt"


def test_a_quote_shows_the_cited_sentence_even_far_into_the_passage() -> None:
    """The web app highlights the cited sentence in the quote: it must be there."""
    params = " ".join(f"* `arg{i}` {{number}} Parameter number {i} of the call." for i in range(12))
    text = f"{params}\n\nSchedules execution of a one-time `callback` after `delay` milliseconds."
    cited = passage(1, text)
    answer = "Schedules execution of a one-time callback after delay milliseconds. [1]"
    quote = build_citations(answer, [cited])[0].quote
    assert quote is not None and len(quote) <= QUOTE_MAX_CHARS
    assert quote.startswith("…")
    assert "Schedules execution of a one-time `callback` after `delay` milliseconds." in quote
    # a sentence the passage does not hold (a paraphrase) keeps the passage's start
    other = build_citations("Timers run callbacks later. [1]", [cited])[0].quote
    assert other is not None and other.startswith("* `arg0`")


def test_cited_sentences_are_those_ending_in_the_passage_marker() -> None:
    answer = "First point [1]. Second point [2]. Both at once [1, 2]. Code `argv[2]` aside."
    assert cited_sentences(answer, 1) == ["First point", "Both at once"]
    assert supporting_quote("short text", ["missing"]) == "short text"
