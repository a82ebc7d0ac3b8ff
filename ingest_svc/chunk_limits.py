"""Hard limits on chunk text: splitter windows, token counts and the two caps.

semantic-text-splitter's time grows faster than linearly on long text without
structure (measured with all-MiniLM-L6-v2's tokenizer and 254-token chunks: one
line of 1 MB took 5 s, 2 MB 21 s, 4 MB 72 s), but it is linear window by window,
so long texts are split in windows of :data:`WINDOW_CHARS` characters. A 10 MB
line of words then chunks in about 20 s with a peak RSS of 140 MB.

Every chunk then goes through :func:`fit`, which guarantees the token and
character caps whatever the splitter returned.
"""

from __future__ import annotations

from collections.abc import Iterator

from semantic_text_splitter import TextSplitter
from tokenizers import Tokenizer

#: Characters per splitter window; a window holds about 100 chunks of English text.
WINDOW_CHARS = 100_000

#: Texts encoded per ``encode_batch`` call. Batches bound memory: an ``Encoding``
#: keeps ids, offsets and token strings, about 100 bytes per token.
BATCH = 256


def windows(text: str, size: int = WINDOW_CHARS) -> list[str]:
    """Cut ``text`` into consecutive windows of at most ``size`` characters.

    A cut goes, by preference, at the last blank line, newline or space in the
    second half of the window, else at the window's end.

    Args:
        text: Any text.
        size: Largest window, in characters.

    Returns:
        Windows that concatenate back to ``text``.
    """
    cuts, position = [], 0
    while len(text) - position > size:
        low, limit = position + size // 2, position + size
        cut = limit
        for separator in ("\n\n", "\n", " "):
            found = text.rfind(separator, low, limit)
            if found >= 0:
                cut = found + len(separator)
                break
        cuts.append(text[position:cut])
        position = cut
    cuts.append(text[position:])
    return cuts


def count_tokens(tokenizer: Tokenizer, texts: list[str]) -> list[int]:
    """Tokens of each text without special tokens, :data:`BATCH` texts at a time.

    Args:
        tokenizer: A tokenizer that neither pads nor truncates.
        texts: Texts to count.

    Returns:
        One count per text.
    """
    counts: list[int] = []
    for start in range(0, len(texts), BATCH):
        batch = tokenizer.encode_batch(texts[start : start + BATCH], add_special_tokens=False)
        counts.extend(len(encoding.ids) for encoding in batch)
    return counts


def fit(
    texts: list[str], tokenizer: Tokenizer, capacity: int, max_chars: int
) -> Iterator[tuple[int, str, int]]:
    """Cut texts until each has at most ``capacity`` tokens and ``max_chars`` characters.

    The splitter meets the token cap unless one grapheme (an emoji sequence, say)
    is longer than the capacity; the character cap only bites on runs of
    ``[UNK]`` words. Both fall back to plain cuts: by characters with
    ``TextSplitter``, then by token offsets.

    Args:
        texts: Candidate chunk texts.
        tokenizer: A tokenizer that neither pads nor truncates.
        capacity: Most tokens per text, without special tokens.
        max_chars: Most characters per text.

    Yields:
        ``(index of the source text, text, token count)`` in order; blank texts
        are dropped.
    """
    by_chars = TextSplitter(max_chars)
    for start in range(0, len(texts), BATCH):
        batch = [
            (source, part)
            for source, text in enumerate(texts[start : start + BATCH], start)
            for part in (by_chars.chunks(text) if len(text) > max_chars else [text])
            if part.strip()
        ]
        encodings = tokenizer.encode_batch([part for _, part in batch], add_special_tokens=False)
        for (source, part), encoding in zip(batch, encodings, strict=True):
            if len(encoding.ids) <= capacity:
                yield source, part, len(encoding.ids)
                continue
            for cut, count in _token_cuts(part, encoding.offsets, tokenizer, capacity):
                yield source, cut, count


def fit_counted(
    texts: list[str],
    counts: list[int | None],
    tokenizer: Tokenizer,
    capacity: int,
    max_chars: int,
) -> list[tuple[int, str, int, bool]]:
    """:func:`fit` for texts of which some token counts are known already.

    A text whose count is known and within both caps passes as it is, without
    being tokenised again; the others go through :func:`fit` (in one batch).

    Args:
        texts: Candidate chunk texts.
        counts: Each text's token count when known (not necessarily exact: see
            :mod:`ingest_svc.token_windows`), else ``None``.
        tokenizer: A tokenizer that neither pads nor truncates.
        capacity: Most tokens per text, without special tokens.
        max_chars: Most characters per text.

    Returns:
        ``(index of the source text, text, token count, exact)`` in order; ``exact``
        is False for a count that was given rather than counted here.
    """
    known = [
        count is not None and count <= capacity and len(text) <= max_chars and bool(text.strip())
        for text, count in zip(texts, counts, strict=True)
    ]
    rest = [i for i, ok in enumerate(known) if not ok]
    cut: dict[int, list[tuple[int, str, int, bool]]] = {}
    for source, part, exact in fit([texts[i] for i in rest], tokenizer, capacity, max_chars):
        cut.setdefault(rest[source], []).append((rest[source], part, exact, True))
    out: list[tuple[int, str, int, bool]] = []
    for i, (text, given) in enumerate(zip(texts, counts, strict=True)):
        if known[i] and given is not None:
            out.append((i, text, given, False))
        else:
            out.extend(cut.get(i, []))
    return out


def exact_counts(
    fitted: list[tuple[int, str, int, bool]], tokenizer: Tokenizer
) -> list[tuple[str, int]]:
    """Each text of :func:`fit_counted` with its exact count (counting the given ones)."""
    given = [i for i, (_, _, _, exact) in enumerate(fitted) if not exact]
    counts = [count for _, _, count, _ in fitted]
    exact = count_tokens(tokenizer, [fitted[i][1] for i in given])
    for i, count in zip(given, exact, strict=True):
        counts[i] = count
    return [(text, count) for (_, text, _, _), count in zip(fitted, counts, strict=True)]


def _token_cuts(
    text: str, offsets: list[tuple[int, int]], tokenizer: Tokenizer, capacity: int
) -> Iterator[tuple[str, int]]:
    """Cut ``text`` into runs of at most ``capacity`` tokens, by token offsets."""
    first = 0
    while first < len(offsets):
        last = min(first + capacity, len(offsets))
        while True:  # re-encoding a cut can add tokens; shrink until it fits
            cut = text[offsets[first][0] : offsets[last - 1][1]]
            count = len(tokenizer.encode(cut, add_special_tokens=False).ids)
            if count <= capacity or last - first == 1:
                break
            last = first + max(1, (last - first) * 9 // 10)
        if cut.strip():
            yield cut, count
        first = last
