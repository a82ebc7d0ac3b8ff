"""Derived embedding exports (``ragbus.embedding.quantize``) on a tiny ONNX graph."""

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from ragbus.embedding.export import is_complete
from ragbus.embedding.quantize import (
    INT8,
    Variant,
    derive_once,
    drop_nan_guards,
    node_names,
    variant_dir,
)

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


def _guarded_attention() -> onnx.ModelProto:
    """``Softmax(x) -> Where(IsNaN(p), 0, p) -> @ V``: the guard torch's sdpa export adds."""
    values = np.random.default_rng(2).normal(size=(8, 4)).astype(np.float32)
    nodes = [
        helper.make_node("Softmax", ["x"], ["p"], name="Softmax", axis=-1),
        helper.make_node("IsNaN", ["p"], ["nan"], name="IsNaN"),
        helper.make_node(
            "Constant", [], ["zero"], name="Zero", value=numpy_helper.from_array(np.float32(0))
        ),
        helper.make_node("Where", ["nan", "zero", "p"], ["guarded"], name="Where"),
        helper.make_node("MatMul", ["guarded", "V"], ["y"], name="MatMul"),
    ]
    graph = helper.make_graph(
        nodes,
        "attention",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
        [numpy_helper.from_array(values, "V")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"x": x})[0])


def test_dropping_the_nan_guard_keeps_the_output() -> None:
    model = _guarded_attention()
    x = np.random.default_rng(3).normal(size=(5, 8)).astype(np.float32)
    x[0, 3:] = -np.inf  # a masked row, as the attention mask makes
    expected = _run(model, x)
    assert drop_nan_guards(model) == 1
    onnx.checker.check_model(model)
    assert [n.op_type for n in model.graph.node] == ["Softmax", "MatMul"]
    np.testing.assert_array_equal(_run(model, x), expected)


def test_a_graph_without_guards_is_left_alone(tmp_path: Path) -> None:
    _tiny_export(tmp_path / "onnx-256")
    model = onnx.load(str(tmp_path / "onnx-256" / "model.onnx"))
    before = model.SerializeToString()
    assert drop_nan_guards(model) == 0
    assert model.SerializeToString() == before


@pytest.mark.parametrize("use", ["graph output", "another node"])
def test_a_guard_whose_nan_test_is_used_elsewhere_stays(use: str) -> None:
    model = _guarded_attention()
    if use == "graph output":
        model.graph.output.append(helper.make_tensor_value_info("nan", TensorProto.BOOL, None))
    else:
        model.graph.node.append(helper.make_node("Not", ["nan"], ["not_nan"]))
    assert drop_nan_guards(model) == 0
    assert "IsNaN" in {n.op_type for n in model.graph.node}


def test_the_int8_variant_drops_guards_in_a_new_cache_directory(tmp_path: Path) -> None:
    (tmp_path / "onnx-256").mkdir()
    onnx.save(_guarded_attention(), str(tmp_path / "onnx-256" / "model.onnx"))
    for name in ("tokenizer.json", "ragbus_model.json"):
        (tmp_path / "onnx-256" / name).write_text("{}")
    target = derive_once(tmp_path / "onnx-256", INT8)
    # int8-pc, the previous default, kept the guards; its cached files must not be reused
    assert target.name != "onnx-256-int8-pc"
    ops = [n.op_type for n in onnx.load(str(target / "model.onnx")).graph.node]
    assert "IsNaN" not in ops and "Where" not in ops, ops
    assert not (target / "unguarded.onnx").exists()
