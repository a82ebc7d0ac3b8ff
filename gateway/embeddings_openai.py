"""``POST /v1/embeddings`` bodies and responses in OpenAI's shapes, without HTTP or NATS.

The body is read by hand rather than by a FastAPI model so that every refusal is
a 400 in OpenAI's error shape (``{"error": {"message", "type", "param", "code"}}``)
naming what was wrong, as OpenAI clients expect, instead of FastAPI's 422.
"""

import base64
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from gateway.openai_errors import OpenAIError
from schemas.embeddings import (
    MAX_EMBED_INPUT_CHARS,
    MAX_EMBED_INPUTS,
    MAX_EMBED_REQUEST_BYTES,
    TextsEmbedded,
)

EncodingFormat = Literal["float", "base64"]
_ENCODINGS: dict[str, EncodingFormat] = {"float": "float", "base64": "base64"}

MAX_MODEL_CHARS = 256
"""Longest ``model`` name accepted (ragbus's own is 39 characters)."""
MAX_BODY_BYTES = 8 * MAX_EMBED_REQUEST_BYTES
"""Largest body read, in bytes (2 MiB): the texts' byte limit with room for JSON
escapes (``\\uXXXX`` makes 3 UTF-8 bytes 6, and 4 bytes 12)."""

OPENAPI_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["input"],
                    "properties": {
                        "input": {
                            "oneOf": [
                                {"type": "string", "minLength": 1},
                                {
                                    "type": "array",
                                    "items": {"type": "string", "minLength": 1},
                                    "minItems": 1,
                                    "maxItems": MAX_EMBED_INPUTS,
                                },
                            ]
                        },
                        "model": {"type": "string", "default": "ragbus"},
                        "encoding_format": {"enum": ["float", "base64"], "default": "float"},
                        "dimensions": {"type": "integer", "description": "384, or left out"},
                        "user": {"type": "string", "description": "ignored"},
                    },
                }
            }
        },
    }
}
"""The body as OpenAPI shows it (the route reads it by hand, see the module doc)."""


class EmbeddingsError(OpenAIError):
    """A refusal or failure of ``/v1/embeddings`` in OpenAI's error shape (see
    :class:`~gateway.openai_errors.OpenAIError` for the arguments)."""


def invalid(message: str, param: str) -> EmbeddingsError:
    """A 400 ``invalid_request_error`` about ``param``."""
    return EmbeddingsError(400, message, param=param, code="invalid_value")


@dataclass(frozen=True, slots=True)
class EmbeddingsBody:
    """A valid ``/v1/embeddings`` body.

    Attributes:
        texts: The inputs, at least one; a single string becomes a list of one.
        model: The model asked for, checked by embed_svc, which knows its names.
        encoding_format: ``float`` (JSON numbers) or ``base64`` (little-endian float32).
        dimensions: The vector size asked for, checked by embed_svc.
    """

    texts: list[str]
    model: str | None = None
    encoding_format: EncodingFormat = "float"
    dimensions: int | None = None


def parse_body(raw: object) -> EmbeddingsBody:
    """Check a decoded JSON body; unknown fields (``user`` ...) are ignored.

    Raises:
        EmbeddingsError: 400 naming the field and what was wrong with it.
    """
    if not isinstance(raw, dict):
        raise invalid("the body must be a JSON object", "body")
    model = raw.get("model")
    if model is not None and not isinstance(model, str):
        raise invalid("model must be a string", "model")
    if model is not None and len(model) > MAX_MODEL_CHARS:
        raise invalid(f"model is over {MAX_MODEL_CHARS} characters", "model")
    asked = raw.get("encoding_format") or "float"
    encoding = _ENCODINGS.get(asked) if isinstance(asked, str) else None
    if encoding is None:
        message = f"encoding_format must be 'float' or 'base64', not {asked!r}"
        raise invalid(message, "encoding_format")
    dimensions = raw.get("dimensions")
    if dimensions is not None and (type(dimensions) is not int or dimensions < 1):
        raise invalid("dimensions must be a positive integer", "dimensions")
    return EmbeddingsBody(_texts(raw.get("input")), model, encoding, dimensions)


def _texts(value: object) -> list[str]:
    if value is None:
        raise invalid("input is required: a string or a list of strings", "input")
    if isinstance(value, str):
        texts, names = [value], ["input"]
    elif isinstance(value, list):
        if not value:
            raise invalid("input is an empty list; send at least one string", "input")
        if len(value) > MAX_EMBED_INPUTS:
            raise invalid(f"input has {len(value)} items; the limit is {MAX_EMBED_INPUTS}", "input")
        texts, names = value, [f"input[{i}]" for i in range(len(value))]
    else:
        raise invalid(f"input must be a string or a list of strings, not {_kind(value)}", "input")
    for text, name in zip(texts, names, strict=True):
        if isinstance(text, int | list) and not isinstance(text, bool):
            raise invalid(
                f"{name} is a token array; ragbus embeds text only, send strings"
                " (its tokenizer is not OpenAI's)",
                "input",
            )
        if not isinstance(text, str):
            raise invalid(f"{name} must be a string, not {_kind(text)}", "input")
        if not text:
            raise invalid(f"{name} is an empty string", "input")
        if len(text) > MAX_EMBED_INPUT_CHARS:
            raise invalid(
                f"{name} has {len(text)} characters; the limit is {MAX_EMBED_INPUT_CHARS}", "input"
            )
    size = sum(len(text.encode("utf-8")) for text in texts)
    if size > MAX_EMBED_REQUEST_BYTES:
        raise invalid(
            f"input is {size} bytes of UTF-8 together; the limit is {MAX_EMBED_REQUEST_BYTES},"
            " send fewer inputs per request",
            "input",
        )
    return list(texts)


def _kind(value: object) -> str:
    """The JSON type of a decoded value, for error messages."""
    names = {bool: "a boolean", int: "a number", float: "a number", dict: "an object"}
    names.update({list: "an array", str: "a string", type(None): "null"})
    return names.get(type(value), type(value).__name__)


def embeddings_response(reply: TextsEmbedded, encoding: EncodingFormat) -> dict[str, Any]:
    """OpenAI's ``CreateEmbeddingResponse`` for a successful reply.

    Beyond OpenAI's fields, ``ragbus`` carries ``token_counts`` (per input) and
    ``truncated`` (indices of inputs longer than the model's window).
    """
    data = [
        {"object": "embedding", "index": i, "embedding": e if encoding == "base64" else _floats(e)}
        for i, e in enumerate(reply.embeddings)
    ]
    tokens = reply.prompt_tokens
    return {
        "object": "list",
        "data": data,
        "model": reply.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        "ragbus": {"token_counts": reply.token_counts, "truncated": reply.truncated},
    }


def _floats(encoded: str) -> list[float]:
    floats: list[float] = np.frombuffer(base64.b64decode(encoded), dtype="<f4").tolist()
    return floats
