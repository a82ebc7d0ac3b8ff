"""Derived embedding exports (``ragbus.embedding.quantize``) on a tiny ONNX graph."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from ragbus.embedding.export import is_complete
from ragbus.embedding.quantize import Variant, derive_once, node_names, variant_dir

pytestmark = pytest.mark.unit


def _tiny_export(path: Path) -> np.ndarray:
    """A 'model' ``y = x @ W`` with a 16x8 weight, plus the files an export holds."""
    path.mkdir()
    weight = np.random.default_rng(0).normal(size=(16, 8)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="proj/MatMul")],
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 8])],
        [numpy_helper.from_array(weight, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.save(model, str(path / "model.onnx"))
    for name in ("tokenizer.json", "tokenizer_config.json", "ragbus_model.json"):
        (path / name).write_text(json.dumps({"name": name}))
    return weight


def test_int8_variant_quantises_weights_and_keeps_the_tokenizer(tmp_path: Path) -> None:
    weight = _tiny_export(tmp_path / "onnx-256")
    variant = Variant("int8", optimize=False, op_types=("MatMul",))
    target = derive_once(tmp_path / "onnx-256", variant)
    assert target == variant_dir(tmp_path / "onnx-256", variant) == tmp_path / "onnx-256-int8"
    assert is_complete(target)
    assert (target / "tokenizer_config.json").read_text() == '{"name": "tokenizer_config.json"}'
    ops = {n.op_type for n in onnx.load(str(target / "model.onnx")).graph.node}
    assert "MatMulInteger" in ops or "DynamicQuantizeMatMul" in ops, ops
    x = np.random.default_rng(1).normal(size=(4, 16)).astype(np.float32)
    (y,) = ort.InferenceSession(str(target / "model.onnx")).run(None, {"x": x})
    expected = x @ weight
    assert np.abs(y - expected).max() < 0.05 * np.abs(expected).max()  # int8, not exact
    assert not np.array_equal(y, expected)


def test_a_cached_variant_is_not_made_again(tmp_path: Path) -> None:
    _tiny_export(tmp_path / "onnx-256")
    variant = Variant("int8", optimize=False, op_types=("MatMul",))
    target = derive_once(tmp_path / "onnx-256", variant)
    made = (target / "model.onnx").stat().st_mtime_ns
    assert derive_once(tmp_path / "onnx-256", variant) == target
    assert (target / "model.onnx").stat().st_mtime_ns == made


def test_excluded_nodes_stay_fp32(tmp_path: Path) -> None:
    _tiny_export(tmp_path / "onnx-256")
    assert node_names(tmp_path / "onnx-256" / "model.onnx", ["MatMul"]) == ["proj/MatMul"]
    variant = Variant("keep", optimize=False, op_types=("MatMul",), exclude=("proj/MatMul",))
    target = derive_once(tmp_path / "onnx-256", variant)
    assert [n.op_type for n in onnx.load(str(target / "model.onnx")).graph.node] == ["MatMul"]
