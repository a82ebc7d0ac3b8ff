"""Checking one upload as received, before anything is stored.

Pure request validation: a file's name and size, and the conversion of a JSON
text upload into the same :class:`Upload` a file becomes. Errors are
:class:`~fastapi.HTTPException` with fixed messages; nothing here touches the
blob store, Postgres or NATS (that is :mod:`gateway.uploads`).
"""

import mimetypes
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, ClassVar

from fastapi import HTTPException
from pydantic import ConfigDict, Field

from gateway.request_checks import RequestBody
from schemas import SUPPORTED_EXTENSIONS, ChunkingStrategy

TEXT_EXTENSIONS = SUPPORTED_EXTENSIONS & {
    ".txt",
    ".text",
    ".md",
    ".markdown",
    ".rst",
    ".html",
    ".htm",
    ".log",
    ".csv",
    ".tsv",
}
"""Extensions a raw text upload may name (PDF or DOCX cannot be sent as text)."""

DEFAULT_TEXT_EXTENSION = ".txt"
"""Appended to a raw text's filename that has no extension at all."""


class TextUpload(RequestBody):
    """JSON body of ``POST /v1/documents``: index raw text without a file.

    Attributes:
        filename: Name shown in citations; its extension picks the parser
            (``.txt`` is appended when it has none).
        text: The document's text.
        metadata: Free-form JSON kept with the document.
        external_id: The client's key of the document; new text under the same key
            becomes a new version of that document.
        chunking: Chunking strategy of this upload; the tenant's default if omitted.
    """

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    uncapped: ClassVar[frozenset[str]] = frozenset({"text"})  # the upload limit's (413)

    filename: str = Field(min_length=1, max_length=512)
    text: str = Field(min_length=1)
    metadata: dict[str, Any] = Field(default_factory=dict)
    external_id: str | None = Field(default=None, min_length=1, max_length=512)
    chunking: ChunkingStrategy | None = None


@dataclass(frozen=True, slots=True)
class Upload:
    """One document's bytes as received, before anything is stored."""

    filename: str
    content_type: str | None
    data: bytes


def checked_name(raw: str | None, allowed: frozenset[str] = SUPPORTED_EXTENSIONS) -> str:
    """The base name of an upload, if its extension is one ragbus parses.

    Raises:
        HTTPException: 422 without a name, with a control character in it, or over
            512 characters; 415 for an unsupported extension.
    """
    name = PurePath(raw or "").name
    if not name:
        raise HTTPException(422, "every file needs a filename")
    if any(ord(c) < 32 for c in name) or len(name) > 512:
        raise HTTPException(422, "filename: control characters or over 512 characters")
    ext = PurePath(name).suffix.lower()
    if ext not in allowed:
        raise HTTPException(
            415,
            f"{name}: unsupported file type {ext or '(none)'}; "
            f"supported: {', '.join(sorted(allowed))}",
        )
    return name


def checked_size(name: str, data: bytes, limit: int) -> bytes:
    """``data`` if it fits ``limit`` bytes; 413 naming the upload otherwise."""
    if len(data) > limit:
        raise HTTPException(413, f"{name} is larger than the {limit}-byte upload limit")
    return data


def text_upload(body: TextUpload, limit: int) -> Upload:
    """The raw text of a JSON upload as UTF-8 bytes under a checked filename."""
    raw = PurePath(body.filename).name
    if raw and not PurePath(raw).suffix:
        raw += DEFAULT_TEXT_EXTENSION
    name = checked_name(raw, TEXT_EXTENSIONS)
    data = checked_size(name, body.text.encode("utf-8"), limit)
    media = mimetypes.guess_type(name)[0] or "text/plain"
    return Upload(name, f"{media}; charset=utf-8", data)
