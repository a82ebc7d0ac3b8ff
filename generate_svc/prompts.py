"""Chat prompt for the LLM answerer: numbered passages in, cited answer out.

The passages are numbered ``[1]..[k]`` in retrieval order (best first), and the
model is told to cite with those numbers, so :func:`generate_svc.citations.build_citations`
can map the markers back to passages. When the context budget is exceeded the
lowest-ranked passages are dropped, which keeps the numbering of the others intact.
"""

from collections.abc import Sequence

from schemas.queries import Passage

NOT_FOUND_ANSWER = "I could not find an answer to that in your documents."
"""What every answerer says when the passages do not contain the answer."""

DEFAULT_MAX_CONTEXT_CHARS = 12_000
"""Character budget for the rendered passages.

About 3,000 tokens at ~4 characters per English token, i.e. ~10 chunks of the
256-token all-MiniLM-L6-v2 chunk size; fits the 8k context of small local models
with room for the system prompt and a 512-token answer.
"""

SYSTEM_PROMPT = f"""\
You answer questions using only the numbered passages provided by the user.
Rules:
- Use only facts stated in the passages; never use outside knowledge.
- Cite every claim with the number of the passage that supports it, in square brackets, \
for example [1] or [2][3]. Cite only numbers that appear in the passages.
- If the passages do not contain the answer, reply exactly: "{NOT_FOUND_ANSWER}"
- Be concise: a few sentences, or a short list when the question asks for steps.
- Answer in the language of the question."""


def passage_label(passage: Passage) -> str:
    """Describe where a passage comes from, for the prompt.

    Args:
        passage: A retrieved passage.

    Returns:
        ``"filename"`` followed by ``", p. N"`` and/or ``", heading"`` when known,
        for example ``"report.pdf, p. 3"`` or ``"child_process.md, Spawning > exec"``.
    """
    parts = [passage.filename]
    if passage.page is not None:
        parts.append(f"p. {passage.page}")
    if passage.heading:
        parts.append(passage.heading)
    return ", ".join(parts)


def render_passage(n: int, passage: Passage) -> str:
    """Render one passage as ``[n] (label)\\ntext``.

    Args:
        n: 1-based number of the passage, the citation marker the model must use.
        passage: The passage.

    Returns:
        The rendered block without a trailing newline.
    """
    return f"[{n}] ({passage_label(passage)})\n{passage.text.strip()}"


def fit_passages(
    passages: Sequence[Passage], max_chars: int = DEFAULT_MAX_CONTEXT_CHARS
) -> list[str]:
    """Render the best-ranked passages that fit in a character budget.

    Passages are taken in rank order and the first one that does not fit ends the
    list (dropping the lowest-ranked ones first). The best passage is always kept,
    cut to the budget if it alone is too long, so the model never gets no context.

    Args:
        passages: Passages ranked best first.
        max_chars: Budget for the rendered blocks, separators (two characters
            between blocks) included; must be positive.

    Returns:
        Rendered blocks ``[1]..[m]``, ``m <= len(passages)``; empty if there are
        no passages.

    Raises:
        ValueError: If ``max_chars`` is not positive.
    """
    if max_chars <= 0:
        raise ValueError(f"max_chars must be positive, got {max_chars}")
    blocks: list[str] = []
    used = 0
    for n, passage in enumerate(passages, start=1):
        block = render_passage(n, passage)
        cost = len(block) + (2 if blocks else 0)
        if used + cost > max_chars:
            if not blocks:
                blocks.append(block[:max_chars])
            break
        blocks.append(block)
        used += cost
    return blocks


def build_messages(
    question: str,
    passages: Sequence[Passage],
    *,
    max_context_chars: int = DEFAULT_MAX_CONTEXT_CHARS,
) -> list[dict[str, str]]:
    """Build the chat messages for one question.

    Args:
        question: The user's question.
        passages: Retrieved passages, ranked best first; numbered ``[1]..[k]``.
        max_context_chars: Budget for the rendered passages, see :func:`fit_passages`.

    Returns:
        OpenAI-style messages: a system message with the rules and a user
        message with the passages followed by the question.
    """
    blocks = fit_passages(passages, max_context_chars)
    context = "\n\n".join(blocks) if blocks else "(no passages)"
    user = f"Passages:\n\n{context}\n\nQuestion: {question.strip()}"
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user},
    ]
