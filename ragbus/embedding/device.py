"""Where the embedding model runs: onnxruntime on the CPU, or on a GPU through CUDA.

``RAGBUS_EMBED_DEVICE`` is ``cpu`` (the default) or ``cuda``. ``cuda`` runs the same
ONNX export through onnxruntime's ``CUDAExecutionProvider``, which only the
``onnxruntime-gpu`` build has (the extra ``ragbus[gpu]``). When ``cuda`` is asked for
and cannot be had, the embedder refuses to start with :class:`EmbeddingDeviceError`
and says what to install: running on the CPU instead would look like a working
GPU worker at a small fraction of its speed.

On either device the texts of a call are sorted by token count and cut into model
calls of similar lengths (:func:`~ragbus.embedding.fastembed_embedder.length_batches`),
each padded to its own longest text. A GPU wants far larger calls than a CPU:
:func:`batch_size` gives it :data:`CUDA_BATCH_SIZE` unless
``RAGBUS_EMBED_BATCH_SIZE`` is set.
"""

from collections.abc import Sequence
from typing import Literal

from ragbus.errors import EmbeddingDeviceError
from ragbus.settings import InfraSettings

EmbedDevice = Literal["cpu", "cuda"]

CPU_PROVIDER = "CPUExecutionProvider"
CUDA_PROVIDER = "CUDAExecutionProvider"

CUDA_BATCH_SIZE = 256
"""Texts per model call on a GPU (the most ``RAGBUS_EMBED_BATCH_SIZE`` allows). A
small model on a large GPU is limited by the calls rather than the arithmetic: each
call pays its launches and copies whether it holds 16 texts or 256. The CPU's
default of 16 bounds the CPU arena's memory, which a GPU does not share."""

GPU_EXTRA = (
    "install the extra ragbus[gpu] (onnxruntime-gpu), then replace fastembed's CPU-only "
    "onnxruntime: pip uninstall -y onnxruntime onnxruntime-gpu && pip install --no-deps "
    "onnxruntime-gpu; or set RAGBUS_EMBED_DEVICE=cpu"
)
"""What to do, ending every :class:`EmbeddingDeviceError` message. fastembed depends on
the CPU-only onnxruntime, and both builds install the same ``onnxruntime`` module, so
the GPU build is reinstalled after the CPU one is removed."""


def onnx_providers(device: EmbedDevice) -> list[str]:
    """onnxruntime execution providers for ``device``, best first.

    Args:
        device: ``cpu`` or ``cuda``.

    Returns:
        ``[CPUExecutionProvider]`` for the CPU; ``[CUDAExecutionProvider,
        CPUExecutionProvider]`` for CUDA (onnxruntime places the few operators CUDA
        lacks on the CPU; whether CUDA itself started is checked by
        :func:`check_session_providers` once the session exists).

    Raises:
        EmbeddingDeviceError: ``cuda`` with an onnxruntime built without CUDA.
    """
    if device == "cpu":
        return [CPU_PROVIDER]
    import onnxruntime as ort  # lazy: a few hundred ms to import

    available = ort.get_available_providers()
    if CUDA_PROVIDER not in available:
        raise EmbeddingDeviceError(
            f"RAGBUS_EMBED_DEVICE=cuda, but onnxruntime {ort.__version__} has no "
            f"{CUDA_PROVIDER} (it has {', '.join(available)}): {GPU_EXTRA}"
        )
    preload = getattr(ort, "preload_dlls", None)  # onnxruntime >= 1.21
    if preload is not None:
        preload()  # CUDA and cuDNN from the extra's nvidia-* wheels, if installed
    return [CUDA_PROVIDER, CPU_PROVIDER]


def check_session_providers(device: EmbedDevice, session_providers: Sequence[str]) -> None:
    """Refuse a session that did not get the device asked for.

    onnxruntime does not fail when the CUDA provider cannot start (no GPU, a missing
    driver or cuDNN library): it logs the reason and runs the session on the CPU.

    Args:
        device: What the settings asked for.
        session_providers: ``InferenceSession.get_providers()`` of the loaded model.

    Raises:
        EmbeddingDeviceError: ``cuda`` was asked for and the session runs without it.
    """
    if device == "cuda" and CUDA_PROVIDER not in session_providers:
        raise EmbeddingDeviceError(
            f"RAGBUS_EMBED_DEVICE=cuda, but onnxruntime could not start {CUDA_PROVIDER} "
            f"(the session got {', '.join(session_providers) or 'none'}): no CUDA device "
            "was found, or its driver, CUDA 13 or cuDNN 9 libraries are missing "
            "(onnxruntime's log says which); check nvidia-smi, or set RAGBUS_EMBED_DEVICE=cpu"
        )


def batch_size(settings: InfraSettings) -> int:
    """Most texts per model call: ``RAGBUS_EMBED_BATCH_SIZE`` when it is set, else the
    device's default (the settings' default on the CPU, :data:`CUDA_BATCH_SIZE` on CUDA)."""
    if settings.embed_device == "cuda" and "embed_batch_size" not in settings.model_fields_set:
        return CUDA_BATCH_SIZE
    return settings.embed_batch_size
