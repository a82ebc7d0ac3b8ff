"""Derived ONNX exports: graph-optimised and int8 variants of a cached export.

A variant is made once from the fp32 export, next to it, with the same atomic
staging and file lock as the export itself. ``RAGBUS_EMBED_PRECISION`` picks one:

- ``fp32``: the export as it is;
- ``int8``: dynamic int8 quantisation of every weight MatMul, with one scale per
  output channel; the embedding tables (``Gather``) stay fp32 (see :data:`INT8`).

How each choice was measured is in docs/benchmarks.md (``scripts/bench_int8.py``).
"""

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ragbus.embedding.export import file_lock, is_complete

logger = logging.getLogger(__name__)

_COPIED = ("ragbus_model.json", "tokenizer.json", "tokenizer_config.json",
           "special_tokens_map.json", "vocab.txt", "config.json")  # fmt: skip


@dataclass(frozen=True)
class Variant:
    """How to derive a model from the fp32 export.

    Attributes:
        name: Directory suffix, e.g. ``int8`` makes ``onnx-256-int8``.
        optimize: Run onnxruntime's BERT graph optimiser first (CPU kernels, no fp16).
        quantize: Quantise weights to int8 with ``quantize_dynamic``.
        per_channel: One scale per output channel instead of per tensor.
        op_types: Operator types quantised.
        exclude: Node names kept in fp32.
    """

    name: str
    optimize: bool = True
    quantize: bool = True
    per_channel: bool = True
    op_types: tuple[str, ...] = ("MatMul", "Attention")
    exclude: tuple[str, ...] = field(default_factory=tuple)


INT8 = Variant("int8-pc", optimize=False)
"""The variant ``RAGBUS_EMBED_PRECISION=int8`` selects.

On a SciFact sample (``scripts/bench_int8.py``) it kept nDCG@10 within 0.0001 of
fp32, where onnxruntime's defaults (per tensor, embedding tables quantised too) lost
0.0097; the BERT optimiser found nothing to fuse in this export and gained no speed.
"""


def variant_dir(fp32_dir: Path, variant: Variant) -> Path:
    """Where ``variant`` of the export in ``fp32_dir`` is cached: a sibling directory."""
    return fp32_dir.with_name(f"{fp32_dir.name}-{variant.name}")


def derive_once(fp32_dir: Path, variant: Variant, target: Path | None = None) -> Path:
    """Make ``variant`` of the export in ``fp32_dir`` unless it is already cached.

    Args:
        fp32_dir: A complete export (``model.onnx``, tokenizer files, marker).
        variant: What to derive.
        target: Output directory; :func:`variant_dir` when ``None``.

    Returns:
        The directory holding the derived export.
    """
    target = target or variant_dir(fp32_dir, variant)
    with file_lock(target.parent / f".{target.name}.lock"):
        if not is_complete(target):
            _derive(fp32_dir, variant, target)
    return target


def _derive(fp32_dir: Path, variant: Variant, target: Path) -> None:
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=target.parent))
    started = time.perf_counter()
    try:
        model = fp32_dir / "model.onnx"
        if variant.optimize:
            optimised = staging / "optimised.onnx"
            _optimize(model, optimised)
            model = optimised
        if variant.quantize:
            _quantize(model, staging / "model.onnx", variant)
        else:
            shutil.copyfile(model, staging / "model.onnx")
        (staging / "optimised.onnx").unlink(missing_ok=True)
        for name in _COPIED:
            if (fp32_dir / name).is_file():
                shutil.copyfile(fp32_dir / name, staging / name)
        staging.chmod(0o755)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info(
        "embedding model variant made variant=%s path=%s seconds=%.1f",
        variant.name,
        target,
        time.perf_counter() - started,
    )


def _optimize(source: Path, output: Path) -> None:
    from onnxruntime.transformers.optimizer import optimize_model

    # num_heads/hidden_size 0: read from the graph; opt_level 1 keeps the model portable
    model = optimize_model(str(source), model_type="bert", num_heads=0, hidden_size=0,
                           opt_level=1, use_gpu=False)  # fmt: skip
    model.save_model_to_file(str(output))


def _quantize(source: Path, output: Path, variant: Variant) -> None:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        source,
        output,
        op_types_to_quantize=list(variant.op_types),
        per_channel=variant.per_channel,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=list(variant.exclude) or None,
        # the optimiser's fused kernels (com.microsoft domain) defeat ONNX shape inference
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )


def node_names(model_path: Path, op_types: Sequence[str]) -> list[str]:
    """Names of the nodes of ``op_types`` whose second input is a weight, in graph order."""
    import onnx

    model = onnx.load(str(model_path))
    weights = {init.name for init in model.graph.initializer}
    return [
        node.name
        for node in model.graph.node
        if node.op_type in op_types and len(node.input) > 1 and node.input[1] in weights
    ]
