"""A chunk's text: the context header in front of its passage, and taking it off again."""

from collections.abc import Sequence

CONTEXT_SEPARATOR = "\n\n"
"""Between a chunk's context header and its passage in ``ChunkPayload.text``."""

MAX_CONTEXT_CHARS = 200
"""Longest context header, in characters (about 40 word pieces of English)."""


def chunk_context(title: str | None, heading: str | None) -> str | None:
    """The context header of a chunk: its document's title, then its heading path.

    ingest_svc starts a chunk's ``text`` with this header and :data:`CONTEXT_SEPARATOR`
    (when the header fits the model's budget), so that BM25 and the embedding see
    which document and section a passage belongs to; :func:`chunk_passage` takes it
    off again for display. Both only need the ``title`` of ``chunks.ready`` and the
    chunk's ``heading``, which every consumer has.

    Args:
        title: The document's title, if any.
        heading: The chunk's heading path joined with ``" > "``, if any.

    Returns:
        ``title > heading > path`` with whitespace collapsed, a heading part equal
        to the one before it dropped (Markdown titles are usually the first
        heading too), cut at a word to :data:`MAX_CONTEXT_CHARS` with ``"…"``;
        ``None`` when there is neither title nor heading.
    """
    parts: list[str] = []
    for part in [title or "", *(heading or "").split(" > ")]:
        words = " ".join(part.split())
        if words and (not parts or parts[-1] != words):
            parts.append(words)
    header = " > ".join(parts)
    if len(header) > MAX_CONTEXT_CHARS:
        cut = header.rfind(" ", 0, MAX_CONTEXT_CHARS)
        header = header[: cut if cut > 0 else MAX_CONTEXT_CHARS - 1].rstrip() + "…"
    return header or None


def chunk_passage(text: str, title: str | None, heading: str | None) -> str:
    """``text`` without the context header :func:`chunk_context` put in front of it.

    A chunk stored before headers existed, or whose header did not fit, starts
    with its passage, and is returned as it is.
    """
    header = chunk_context(title, heading)
    if header is not None and text.startswith(header + CONTEXT_SEPARATOR):
        passage = text[len(header) + len(CONTEXT_SEPARATOR) :]
        if passage.strip():
            return passage
    return text


def window_texts(text: str, spans: Sequence[tuple[int, int]], prefix_chars: int) -> list[str]:
    """What a chunk's dense side embeds: ``text[:prefix_chars] + text[start:end]`` for
    each of its window ``spans``, or ``[text]`` when it has none (``ChunkPayload``)."""
    if not spans:
        return [text]
    prefix = text[:prefix_chars]
    return [prefix + text[start:end] for start, end in spans]
