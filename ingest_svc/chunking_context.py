"""Chunks that carry their context: the document title and heading path in every chunk.

A passage cut from the middle of a document often does not name what it is about:
on SciFact, an abstract's body chunks lacked the title's terms for BM25 and its
meaning for the embedding, and the title itself became a chunk of its own (the
splitter stops at the blank line after it). So every chunk's text starts with a
context header, :func:`schemas.documents.chunk_context` of the document's title and
the chunk's heading path, then a blank line, then the passage. The header is part
of what is embedded and what BM25 indexes, within the model's token cap; it is
taken off again for display (:func:`schemas.documents.chunk_passage`).

How the budget works: the longest header any section of the document would get is
counted once, and every passage is cut to the capacity left after it
(:func:`context_budget`), rounded down to a multiple of :data:`BUDGET_STEP` so the
splitters built per capacity stay few. A header may take at most a quarter of the
capacity; a chunk whose header is longer than the budget keeps no header.

A document whose first line is its title (``title\\n\\ntext``, the BEIR convention,
or a Markdown ``# Title``) would show that line twice in its first chunk: it moves
into the header (:func:`without_title_line`), which is how a short leading title is
packed into the next chunk instead of standing alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tokenizers import Tokenizer

from ingest_svc.chunk_limits import count_tokens
from ingest_svc.parsers.parsed import Section
from schemas.documents import CONTEXT_SEPARATOR, MAX_CONTEXT_CHARS, chunk_context

BUDGET_STEP = 8
"""Passage capacities are multiples of this many tokens below the full capacity."""

MAX_CONTEXT_SHARE = 4
"""A header takes at most ``capacity // MAX_CONTEXT_SHARE`` tokens (63 of 254)."""


def without_title_line(sections: Sequence[Section], title: str | None) -> list[Section]:
    """The sections with the document's leading title line taken out.

    The first section's first line goes when it is the title (whitespace collapsed,
    Markdown ``#`` marks ignored) and stands as a paragraph of its own: followed by
    a blank line, alone in its section, or a Markdown heading. A first sentence that
    merely became the title of a plain-text file is kept. A section left empty is
    dropped. A document that is nothing but its title keeps it: its one line is the
    content to index (a one-line note would otherwise become an empty document).
    """
    if not sections or not title:
        return list(sections)
    first = sections[0]
    line, _, rest = first.text.lstrip("\n").partition("\n")
    is_heading = line.lstrip().startswith("#")
    plain = " ".join(line.strip().lstrip("#").split())
    own_paragraph = is_heading or not rest.strip() or rest.startswith("\n")
    if plain != " ".join(title.split()) or not own_paragraph:
        return list(sections)
    rest = rest.strip("\n")
    kept = [Section(rest, first.page, first.heading)] if rest.strip() else []
    remaining = kept + list(sections[1:])
    if not any(section.text.strip() for section in remaining):
        return list(sections)
    return remaining


def context_budget(
    counter: Tokenizer, title: str | None, headings: Iterable[tuple[str, ...]], capacity: int
) -> int:
    """Tokens kept free for the header in every chunk of one document.

    Args:
        counter: A tokenizer that neither pads nor truncates.
        title: The document's title.
        headings: The heading path of every section.
        capacity: Tokens of text a chunk may hold (special tokens excluded).

    Returns:
        The longest header's tokens, at most ``capacity // MAX_CONTEXT_SHARE``,
        rounded up to a multiple of :data:`BUDGET_STEP`; 0 when no section has a
        header.
    """
    headers = sorted(
        {h for path in headings if (h := chunk_context(title, " > ".join(path) or None))}
    )
    if not headers:
        return 0
    longest = min(max(count_tokens(counter, headers)), capacity // MAX_CONTEXT_SHARE)
    return min(-(-longest // BUDGET_STEP) * BUDGET_STEP, capacity - 1)


def with_context(
    passages: Sequence[tuple[str, str | None]],
    title: str | None,
    counter: Tokenizer,
    capacity: int,
) -> list[tuple[str, int, str | None]]:
    """Each passage with its header in front, the text's token count and the header.

    Args:
        passages: ``(passage, heading path joined with " > " or None)`` in order;
            each passage fits ``capacity`` minus the budget, and
            :func:`passage_chars` characters.
        title: The document's title.
        counter: A tokenizer that neither pads nor truncates.
        capacity: Tokens of text a chunk may hold.

    Returns:
        ``(text, tokens, header)`` per passage: ``header + CONTEXT_SEPARATOR +
        passage``, or the passage alone (header ``None``) when it has no header, the
        passage says no more than the header (a document that is only its title),
        or the two exceed ``capacity`` (a header longer than the budget).
    """
    headers = [
        None if _same_words(passage.lstrip("#"), header) else header
        for (passage, _), header in zip(
            passages, (chunk_context(title, heading) for _, heading in passages), strict=True
        )
    ]
    texts = [
        passage if header is None else f"{header}{CONTEXT_SEPARATOR}{passage}"
        for (passage, _), header in zip(passages, headers, strict=True)
    ]
    out: list[tuple[str, int, str | None]] = []
    counts = count_tokens(counter, texts)
    for (passage, _), text, count, header in zip(passages, texts, counts, headers, strict=True):
        if count > capacity:
            text, count, header = passage, count_tokens(counter, [passage])[0], None
        out.append((text, count, header))
    return out


def _same_words(passage: str, header: str | None) -> bool:
    return header is not None and " ".join(passage.split()) == " ".join(header.split())


def passage_chars(max_chars: int) -> int:
    """Characters left for the passage once the longest possible header is in front."""
    return max(1, max_chars - MAX_CONTEXT_CHARS - len(CONTEXT_SEPARATOR))
