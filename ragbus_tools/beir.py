"""BEIR corpora (``corpus.jsonl``) as ragbus documents: pure reading, no HTTP.

Each line of a BEIR corpus is a JSON object with ``_id``, ``title`` and ``text``.
It becomes a ``<_id>.txt`` document whose text is the title and the text joined by a
blank line (how BEIR evaluations of SciFact embed a document), with the metadata
``{"beir_id": _id}`` so retrieved passages map back to the qrels.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


class BeirFormatError(ValueError):
    """A corpus line is not a BEIR document; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class BeirDocument:
    """One corpus line, ready to upload."""

    beir_id: str
    title: str
    text: str

    @property
    def filename(self) -> str:
        """``<_id>.txt``, with characters unsafe in a file name replaced by ``_``."""
        return f"{_UNSAFE.sub('_', self.beir_id)}.txt"

    @property
    def content(self) -> str:
        """``title + "\\n\\n" + text``; just the one that is there if the other is empty."""
        return "\n\n".join(part for part in (self.title.strip(), self.text.strip()) if part)

    @property
    def metadata(self) -> dict[str, Any]:
        """Stored with the document: ``{"beir_id": _id}``."""
        return {"beir_id": self.beir_id}


def is_beir_corpus(path: Path) -> bool:
    """Whether ``path`` is read as a BEIR corpus (a ``.jsonl`` file)."""
    return path.is_file() and path.suffix.lower() == ".jsonl"


def parse_line(line: str, lineno: int, source: str = "corpus") -> BeirDocument:
    """One corpus line as a document.

    Raises:
        BeirFormatError: not a JSON object, ``_id`` missing or empty, ``title`` or
            ``text`` not strings, or no text at all; the message names the line.
    """
    where = f"{source} line {lineno}"
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BeirFormatError(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise BeirFormatError(f"{where}: expected a JSON object with _id, title and text")
    beir_id = row.get("_id")
    if isinstance(beir_id, int) and not isinstance(beir_id, bool):
        beir_id = str(beir_id)
    if not isinstance(beir_id, str) or not beir_id.strip():
        raise BeirFormatError(f"{where}: missing or empty _id")
    title, text = row.get("title", ""), row.get("text", "")
    if not isinstance(title, str) or not isinstance(text, str):
        raise BeirFormatError(f"{where}: title and text must be strings")
    doc = BeirDocument(beir_id=beir_id.strip(), title=title, text=text)
    if not doc.content:
        raise BeirFormatError(f"{where}: _id {beir_id} has neither title nor text")
    return doc


def iter_corpus(path: Path, *, limit: int | None = None) -> Iterator[BeirDocument]:
    """The documents of a ``corpus.jsonl``, in file order; blank lines are skipped.

    Args:
        path: The corpus file.
        limit: Stop after this many documents.

    Raises:
        BeirFormatError: on the first malformed line.
    """
    if limit is not None and limit <= 0:
        return
    count = 0
    with path.open(encoding="utf-8") as lines:
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            yield parse_line(line, lineno, source=path.name)
            count += 1
            if limit is not None and count >= limit:
                return


def read_corpus(path: Path, *, limit: int | None = None) -> list[BeirDocument]:
    """Every document of the corpus (or the first ``limit``); see :func:`iter_corpus`."""
    return list(iter_corpus(path, limit=limit))
