"""Checks every request body shares: no NUL characters, no non-finite numbers, no
string longer than :data:`MAX_TEXT_CHARS`.

Postgres text cannot hold ``\\x00`` and JSON has no ``NaN`` or ``Infinity``, yet a
JSON body can spell both (``"\\u0000"``, ``1e400``). Without these checks such a
value reached a store or a response encoder and became a 500; with them it is a
422 that names the field. The length cap applies to every string of every body,
keys and nested free-form values (``metadata``, ``filters``) included, so a field
without a cap of its own still has one; fields with a tighter cap (a question:
8,192 characters) keep theirs, and a body's own text (``TextUpload.text``) is
bounded by the upload limit instead.
"""

import math
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator


def nul_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string (key or value) in ``value`` holding a NUL."""
    if isinstance(value, str):
        return path or "value" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and "\x00" in key:
                return where
            if (found := nul_path(item, where)) is not None:
                return found
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if (found := nul_path(item, f"{path}[{i}]")) is not None:
                return found
    return None


def non_finite_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first ``NaN`` or infinite number in ``value``."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path or "value"
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if (found := non_finite_path(item, where)) is not None:
                return found
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if (found := non_finite_path(item, f"{path}[{i}]")) is not None:
                return found
    return None


MAX_TEXT_CHARS = 65_536
"""Longest string (value or key) in any request body unless a field says otherwise:
twice the longest chat message (32,768), far above every name, title and metadata
value a client sends."""


def long_text_path(value: Any, limit: int = MAX_TEXT_CHARS, path: str = "") -> str | None:
    """The dotted path of the first string (key or value) in ``value`` over ``limit``."""
    if isinstance(value, str):
        return path or "value" if len(value) > limit else None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str) and len(key) > limit:
                return f"{path}.{key[:32]}..." if path else f"{key[:32]}..."
            if (found := long_text_path(item, limit, where)) is not None:
                return found
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if (found := long_text_path(item, limit, f"{path}[{i}]")) is not None:
                return found
    return None


def check_clean(value: Any, what: str) -> None:
    """Raise ``ValueError`` naming the first NUL, non-finite number or string over
    :data:`MAX_TEXT_CHARS` inside ``value``.

    Args:
        value: Decoded JSON (dicts, lists, strings, numbers).
        what: The name of the field or part being checked, for the message.
    """
    if (path := nul_path(value)) is not None:
        raise ValueError(f"{what}: {path} contains a NUL character")
    if (path := non_finite_path(value)) is not None:
        raise ValueError(f"{what}: {path} is not a finite number")
    if (path := long_text_path(value)) is not None:
        raise ValueError(f"{what}: {path} is over {MAX_TEXT_CHARS} characters")


class RequestBody(BaseModel):
    """Base of the gateway's JSON bodies: finite numbers only, no NUL in any string,
    no string over :data:`MAX_TEXT_CHARS`.

    Numbers are checked by pydantic itself (``allow_inf_nan=False``); strings,
    nested ones in free-form fields (``metadata``, ``filters``) included, by
    :func:`nul_path` and :func:`long_text_path` after validation.

    Attributes:
        uncapped: Fields exempt from the length cap (bounded by a body limit).
    """

    model_config = ConfigDict(allow_inf_nan=False)
    uncapped: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_nul(self) -> "RequestBody":
        if (path := nul_path(self.model_dump(mode="python"))) is not None:
            raise ValueError(f"{path} contains a NUL character")
        capped = self.model_dump(mode="python", exclude=set(self.uncapped))
        if (path := long_text_path(capped)) is not None:
            raise ValueError(f"{path} is over {MAX_TEXT_CHARS} characters")
        return self


def safe_errors(errors: Any) -> list[dict[str, Any]]:
    """Validation errors with only JSON-safe parts (no ``inf`` or bytes echoed back).

    FastAPI echoes each wrong ``input``; ``1e400`` decodes to ``inf``, which JSON
    cannot encode, so the 422 itself failed with a 500.
    """
    safe = []
    for error in errors:
        item = {k: v for k, v in dict(error).items() if k in ("type", "loc", "msg")}
        item["loc"] = [part if isinstance(part, int | str) else str(part) for part in item["loc"]]
        safe.append(item)
    return safe
