"""``RAGBUS_EMBED_DEVICE``: the setting, the providers asked of onnxruntime, and the
refusal to run on the CPU when CUDA was asked for (ragbus.embedding.device)."""

import pytest
from pydantic import ValidationError

from ragbus.embedding.device import (
    CPU_PROVIDER,
    CUDA_BATCH_SIZE,
    CUDA_PROVIDER,
    batch_size,
    check_session_providers,
    onnx_providers,
)
from ragbus.errors import EmbeddingDeviceError, ModelUnavailableError
from ragbus.settings import InfraSettings
from ragbus_tools.cli_errors import EXIT_USAGE, explain

pytestmark = pytest.mark.unit


def test_cpu_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAGBUS_EMBED_DEVICE", raising=False)

    assert InfraSettings().embed_device == "cpu"


@pytest.mark.parametrize("value", ["cpu", "cuda"])
def test_the_device_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RAGBUS_EMBED_DEVICE", value)

    assert InfraSettings().embed_device == value


def test_an_unknown_device_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAGBUS_EMBED_DEVICE", "tpu")

    with pytest.raises(ValidationError, match="embed_device"):
        InfraSettings()


def test_a_gpu_gets_large_calls_unless_the_batch_size_is_set() -> None:
    assert batch_size(InfraSettings(embed_device="cpu")) == InfraSettings().embed_batch_size
    assert batch_size(InfraSettings(embed_device="cuda")) == CUDA_BATCH_SIZE
    assert batch_size(InfraSettings(embed_device="cuda", embed_batch_size=32)) == 32
    assert batch_size(InfraSettings(embed_device="cpu", embed_batch_size=32)) == 32


def test_the_cpu_is_asked_for_explicitly() -> None:
    # left to choose, fastembed would take CUDA whenever onnxruntime-gpu is installed
    assert onnx_providers("cpu") == [CPU_PROVIDER]


def test_cuda_without_a_cuda_build_names_the_extra() -> None:
    ort = pytest.importorskip("onnxruntime")
    if CUDA_PROVIDER in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider")

    with pytest.raises(EmbeddingDeviceError, match=r"ragbus\[gpu\]") as info:
        onnx_providers("cuda")

    assert "has no CUDAExecutionProvider" in str(info.value)
    assert isinstance(info.value, ModelUnavailableError)


def test_a_session_that_fell_back_to_the_cpu_is_refused() -> None:
    # onnxruntime-gpu without a GPU or its libraries logs and runs on the CPU
    with pytest.raises(EmbeddingDeviceError, match="no CUDA device was found"):
        check_session_providers("cuda", [CPU_PROVIDER])

    check_session_providers("cuda", [CUDA_PROVIDER, CPU_PROVIDER])
    check_session_providers("cpu", [CPU_PROVIDER])


def test_the_cli_says_it_in_one_line_as_a_usage_error() -> None:
    code, line = explain(EmbeddingDeviceError("RAGBUS_EMBED_DEVICE=cuda, but ..."))

    assert (code, line) == (EXIT_USAGE, "RAGBUS_EMBED_DEVICE=cuda, but ...")
