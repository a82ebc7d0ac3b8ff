"""``python -m ragbus_tools.bench.gpu_embed`` on a machine without a GPU: it says so,
says what it would measure, and exits 0."""

import pytest

from ragbus.embedding.device import CUDA_PROVIDER
from ragbus_tools.bench import gpu_embed

pytestmark = pytest.mark.unit


def test_without_cuda_it_explains_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    ort = pytest.importorskip("onnxruntime")
    if CUDA_PROVIDER in ort.get_available_providers():
        pytest.skip("this onnxruntime has the CUDA provider: the script would measure")

    code = gpu_embed.main(["corpus.jsonl", "--limit", "50"])

    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("no CUDA device found, so nothing was measured on a GPU: ")
    assert "RAGBUS_EMBED_DEVICE=cuda" in out and "ragbus[gpu]" in out
    assert "the embed stage alone" in out and "the whole pipeline" in out
    assert "first 50 documents of corpus.jsonl" in out
    assert "{" not in out  # no figures unless --cpu-figures
