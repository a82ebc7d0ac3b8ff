"""Checks every request body shares: no NUL characters, no non-finite numbers.

Postgres text cannot hold ``\\x00`` and JSON has no ``NaN`` or ``Infinity``, yet a
JSON body can spell both (``"\\u0000"``, ``1e400``). Without these checks such a
value reached a store or a response encoder and became a 500; with them it is a
422 that names the field.
"""

import math
from typing import Any

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


def check_clean(value: Any, what: str) -> None:
    """Raise ``ValueError`` naming the first NUL or non-finite number inside ``value``.

    Args:
        value: Decoded JSON (dicts, lists, strings, numbers).
        what: The name of the field or part being checked, for the message.
    """
    if (path := nul_path(value)) is not None:
        raise ValueError(f"{what}: {path} contains a NUL character")
    if (path := non_finite_path(value)) is not None:
        raise ValueError(f"{what}: {path} is not a finite number")


class RequestBody(BaseModel):
    """Base of the gateway's JSON bodies: finite numbers only, no NUL in any string.

    Numbers are checked by pydantic itself (``allow_inf_nan=False``); strings,
    nested ones in free-form fields (``metadata``, ``filters``) included, by
    :func:`nul_path` after validation.
    """

    model_config = ConfigDict(allow_inf_nan=False)

    @model_validator(mode="after")
    def _no_nul(self) -> "RequestBody":
        if (path := nul_path(self.model_dump(mode="python"))) is not None:
            raise ValueError(f"{path} contains a NUL character")
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
