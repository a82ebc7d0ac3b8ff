"""Split passages into the prose sentences the extractive answerer may quote.

Passages are Markdown-ish text (chunks of Markdown, PDF or HTML extracts) and may
start inside a code block. Code, markup and headings are dropped; Markdown links
are reduced to their text so a quoted sentence reads as prose.
"""

import functools
import re

import pysbd

MIN_WORDS = 4
"""Fragments with fewer words (headings, labels, ``"Returns: <Buffer>"``) are skipped."""

SPLIT_CACHE_ENTRIES = 4096
"""Passages whose sentences :func:`passage_sentences` keeps: about 10 MB of text at
1-2 KB per chunk. pysbd takes 2-4 ms of CPU per SciFact chunk, most of an extractive
answer's time besides the model, and the same chunks answer many questions."""

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^#{1,6}\s")
_LIST_ITEM = re.compile(r"^(?:[*+-]|\d{1,3}[.)])\s+")
_SKIPPED_LINE = re.compile(r"^(?:\||<!--.*-->$|={3,}$|-{3,}$)")
_QUOTE_MARK = re.compile(r"^\s*(?:>\s?)+")
_CODE_START = re.compile(
    r"^(?:const|let|var|import|export|function|class|return|await|async|require\(|"
    r"if\s*\(|for\s*\(|while\s*\(|//|/\*|\*/|\$ |</?\w|[})\]])"
)
# inline code, Markdown links (kept: their text) and Node.js-style "{string}" type tags
_NOT_CODE = re.compile(r"`[^`]*`|\[([^\]]*)\](?:\[[^\]]*\]|\([^)]*\))|\{[\w.|<>\[\]\\]+\}")
_CODE_SYMBOLS = frozenset("{};=<>[]|\\$")
# Inline code first, so brackets inside backticks are left alone; then a link or image:
# "[text][]", "[text][ref]" or "[text](url)", where the url may hold one level of
# parentheses (Wikipedia-style addresses).
_CODE_OR_LINK = re.compile(r"(`[^`]*`)|!?\[([^\]]*)\](?:\[[^\]]*\]|\((?:[^()]|\([^()]*\))*\))")


def unlink(text: str) -> str:
    """Replace Markdown links and images by their text; inline code is kept as it is.

    For example ``"see [`spawn()`][] and [docs](https://x.org)"`` becomes
    ``"see `spawn()` and docs"``.
    """
    return _CODE_OR_LINK.sub(lambda m: m.group(1) or m.group(2), text)


def prose_blocks(text: str) -> list[str]:
    """Split Markdown-ish text into prose blocks that a sentence splitter can handle.

    Fenced code blocks, headings, table rows, HTML comments and rules are dropped;
    blank lines and list items start new blocks; soft-wrapped lines are joined
    with spaces, and links are reduced to their text (see :func:`unlink`). Plain
    text (PDF, HTML extracts) passes through as paragraphs.

    Args:
        text: A passage's text.

    Returns:
        Non-empty blocks of prose, in document order.
    """
    blocks: list[str] = []
    current: list[str] = []
    skip_until: str | None = None  # closing fence or "-->" of the block being skipped

    def flush() -> None:
        if current:
            # unlinked after joining: a link's text may be soft-wrapped over two lines
            blocks.append(unlink(" ".join(current)))
            current.clear()

    for raw in text.splitlines():
        fence = _FENCE.match(raw)
        if skip_until is not None:
            if (fence and fence.group(1) == skip_until) or (skip_until == "-->" and "-->" in raw):
                skip_until = None
            continue
        line = _QUOTE_MARK.sub("", raw).strip()
        if fence or (line.startswith("<!--") and "-->" not in line):
            flush()
            skip_until = fence.group(1) if fence else "-->"
            continue
        if not line or _HEADING.match(line) or _SKIPPED_LINE.match(line):
            flush()
            continue
        item = _LIST_ITEM.match(line)
        if item:
            flush()
            line = line[item.end() :]
        current.append(line)
    flush()
    return blocks


def looks_like_code(sentence: str) -> bool:
    """Tell code and markup from prose (chunks may start inside a code block).

    A sentence is code if it starts like a statement, comment or tag, or if more
    than 5% of its non-space characters are code symbols (``{};=<>[]|\\$``) once
    inline code, link targets and type tags are removed; prose measures 0-2%,
    JavaScript and HTML tables 8-20% (on a sample of the Node.js API docs).
    """
    if _CODE_START.match(sentence):
        return True
    text = _NOT_CODE.sub(lambda m: m.group(1) or "x", sentence)
    chars = [c for c in text if not c.isspace()]
    return sum(c in _CODE_SYMBOLS for c in chars) > 0.05 * max(len(chars), 1)


def split_sentences(text: str, *, min_words: int = MIN_WORDS) -> list[str]:
    """Split a passage into candidate answer sentences.

    Args:
        text: A passage's text.
        min_words: Shorter fragments (whitespace-separated words) are dropped, as
            is anything :func:`looks_like_code`.

    Returns:
        Stripped sentences in document order, links reduced to their text.
    """
    segmenter = pysbd.Segmenter(language="en", clean=False)  # cheap; not shared across threads
    sentences = []
    for block in prose_blocks(text):
        for sentence in segmenter.segment(block):
            sentence = sentence.strip()
            if len(sentence.split()) >= min_words and not looks_like_code(sentence):
                sentences.append(sentence)
    return sentences


@functools.lru_cache(maxsize=SPLIT_CACHE_ENTRIES)
def passage_sentences(text: str, min_words: int = MIN_WORDS) -> tuple[str, ...]:
    """:func:`split_sentences`, remembered for the last :data:`SPLIT_CACHE_ENTRIES`
    passages (thread-safe; a passage's sentences depend only on its text)."""
    return tuple(split_sentences(text, min_words=min_words))
