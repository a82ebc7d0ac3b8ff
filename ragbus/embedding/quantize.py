"""Derived ONNX exports: graph-optimised and int8 variants of a cached export.

A variant is made once from the fp32 export, next to it, with the same atomic
staging and file lock as the export itself. ``RAGBUS_EMBED_PRECISION`` picks one:

- ``fp32``: the export as it is;
- ``int8``: the attention's NaN guards removed (:func:`drop_nan_guards`), then
  dynamic int8 quantisation of every weight MatMul, with one scale per output
  channel; the embedding tables (``Gather``) stay fp32 (see :data:`INT8`).

How each choice was measured is in docs/benchmarks.md (``ragbus_tools/bench/int8.py``).
"""

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ragbus.embedding.export import file_lock, is_complete

if TYPE_CHECKING:
    import onnx

logger = logging.getLogger(__name__)

_COPIED = ("ragbus_model.json", "tokenizer.json", "tokenizer_config.json",
           "special_tokens_map.json", "vocab.txt", "config.json")  # fmt: skip


@dataclass(frozen=True)
class Variant:
    """How to derive a model from the fp32 export.

    Attributes:
        name: Directory suffix, e.g. ``int8`` makes ``onnx-256-int8``. It is the cache
            key: a variant whose graph changes must get a new name, or an old file is reused.
        drop_guards: Remove the NaN guards after each attention Softmax first
            (:func:`drop_nan_guards`).
        optimize: Run onnxruntime's BERT graph optimiser first (CPU kernels, no fp16).
        quantize: Quantise weights to int8 with ``quantize_dynamic``.
        per_channel: One scale per output channel instead of per tensor.
        op_types: Operator types quantised.
        weights_only: Quantise only MatMuls with a weight as second input
            (onnxruntime's ``MatMulConstBOnly``); ``False`` adds the attention's two.
        exclude: Node names kept in fp32.
    """

    name: str
    drop_guards: bool = False
    optimize: bool = True
    quantize: bool = True
    per_channel: bool = True
    op_types: tuple[str, ...] = ("MatMul", "Attention")
    exclude: tuple[str, ...] = field(default_factory=tuple)
    weights_only: bool = True


INT8 = Variant("int8-pc-noguard", drop_guards=True, optimize=False)
"""The variant ``RAGBUS_EMBED_PRECISION=int8`` selects.

On a SciFact sample (``ragbus_tools/bench/int8.py``, table in docs/benchmarks.md) it
loses 0.0009 nDCG@10 against fp32, where per-tensor scales lose 0.0052 and
onnxruntime's defaults (embedding tables quantised too) lost 0.0097. Dropping the NaN
guards changes no output but saves a fifth of the int8 model's time at 256 tokens.
The BERT optimiser fuses nothing in this (sdpa) export; in an eager-attention export
it fuses ``Attention`` (``QAttention`` in int8), which ran slower than onnxruntime's
own session-time fusions. ``int8-pc`` (guards kept) was the previous
default; its cached files are not reused.
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
        if variant.drop_guards:
            _drop_guards_in_file(model, staging / "unguarded.onnx")
            model = staging / "unguarded.onnx"
        if variant.optimize:
            optimised = staging / "optimised.onnx"
            _optimize(model, optimised)
            model = optimised
        if variant.quantize:
            _quantize(model, staging / "model.onnx", variant)
        else:
            shutil.copyfile(model, staging / "model.onnx")
        for scratch in ("unguarded.onnx", "optimised.onnx"):
            (staging / scratch).unlink(missing_ok=True)
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


def drop_nan_guards(model: "onnx.ModelProto") -> int:
    """Remove ``Where(IsNaN(p), 0, p)`` after each attention ``Softmax``, in place.

    torch's export of transformers' ``sdpa`` attention adds this guard for rows whose
    keys are all masked, which never happens here: ``[CLS]`` is never masked, so no
    Softmax row is all ``-inf`` and ``p`` holds no NaN. The guard leaves the output
    unchanged, but it reads and writes the whole ``(batch, 12, seq, seq)`` attention
    tensor twice per layer: at 256 tokens it was 16% of the fp32 model's kernel time
    and 22% of the int8 model's (onnxruntime profile, docs/benchmarks.md).

    Args:
        model: An ONNX model; exports without the pattern are left as they are.

    Returns:
        How many guards were removed (6 for the sdpa MiniLM export).
    """
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, int] = {out.name: 1 for out in graph.output}  # outputs count as used
    for node in graph.node:
        for name in node.input:
            consumers[name] = consumers.get(name, 0) + 1
    bypass: dict[str, str] = {}  # guard output -> the Softmax output it guarded
    dropped = []
    for node in graph.node:
        if node.op_type != "Where" or len(node.input) != 3:
            continue
        isnan, probs = producer.get(node.input[0]), producer.get(node.input[2])
        if (
            isnan is None
            or isnan.op_type != "IsNaN"
            or isnan.input[0] != node.input[2]
            or probs is None
            or probs.op_type != "Softmax"
            or consumers[isnan.output[0]] != 1
        ):
            continue
        bypass[node.output[0]] = node.input[2]
        dropped += [node, isnan]
        fill = producer.get(node.input[1])
        if fill is not None and fill.op_type == "Constant" and consumers[node.input[1]] == 1:
            dropped.append(fill)
    if any(out.name in bypass for out in graph.output):
        return 0  # a guarded tensor is itself an output; leave the graph alone
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in bypass:
                node.input[i] = bypass[name]
    for node in dropped:
        graph.node.remove(node)
    return len(bypass)


def _drop_guards_in_file(source: Path, output: Path) -> None:
    import onnx

    model = onnx.load(str(source))
    logger.info("attention NaN guards removed count=%d", drop_nan_guards(model))
    onnx.save(model, str(output))


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
        extra_options={
            "DefaultTensorType": TensorProto.FLOAT,
            "MatMulConstBOnly": variant.weights_only,
        },
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
