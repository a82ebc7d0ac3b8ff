"""The peer: LlamaIndex's ``IngestionPipeline`` on the same documents, in its own process.

It gets each document's text as ragbus parsed it (so PDF or HTML parsing is not
part of the peer's time; for BEIR and text files the text is the file), splits it
with LlamaIndex's ``SentenceSplitter`` counting tokens with the model's own
tokenizer (254 tokens, overlap 32, as ragbus chunks), embeds with
``FastEmbedEmbedding`` loading the same local ONNX export (so the same model,
truncation and threads), and stores in Qdrant local mode in a temporary directory.

Needs the ``bench`` extra (``pip install '.[bench]'``).
"""

import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ragbus_tools.bench.corpus import BenchDocument, plain_texts

CHUNK_TOKENS = 254  # 256 minus [CLS] and [SEP], as ragbus chunks
OVERLAP_TOKENS = 32


def require_peer() -> None:
    """Fail before any work when the peer cannot run.

    Raises:
        RuntimeError: LlamaIndex (the ``bench`` extra) is not installed.
    """
    if importlib.util.find_spec("llama_index") is None:
        raise RuntimeError(
            "--peer needs LlamaIndex: install the bench extra (pip install -e '.[bench]')"
        )


def run_peer(documents: list[BenchDocument], timeout_s: float = 7200.0) -> dict[str, Any]:
    """Run the peer on ``documents`` in a child process; its figures.

    Returns:
        ``peer_documents``, ``peer_chunks`` (nodes), ``peer_seconds`` (wall clock of
        ``IngestionPipeline.run``), ``peer_docs_per_s``, ``peer_chunks_per_s`` and
        ``peer_peak_rss_mb`` (the child's maximum RSS, from getrusage).

    Raises:
        RuntimeError: the peer failed, for example without the ``bench`` extra.
    """
    texts = plain_texts(documents)
    with tempfile.TemporaryDirectory(prefix="peer-") as tmp:
        inputs = Path(tmp) / "texts.json"
        inputs.write_text(json.dumps(texts))
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "ragbus_tools.bench.peer",
                str(inputs),
                str(Path(tmp) / "qdrant"),
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            env={**os.environ},
        )
    if run.returncode != 0:
        raise RuntimeError(f"the LlamaIndex peer failed: {run.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def _main(inputs: Path, qdrant_dir: Path) -> dict[str, Any]:
    from llama_index.core import Document
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.fastembed import FastEmbedEmbedding
    from llama_index.vector_stores.qdrant import QdrantVectorStore
    from qdrant_client import QdrantClient
    from tokenizers import Tokenizer

    from ragbus.embedding import resolve_model
    from ragbus.embedding.fastembed_embedder import register_export
    from ragbus.settings import InfraSettings

    settings = InfraSettings()
    resolved = resolve_model(settings)
    if resolved.path is None:
        raise RuntimeError("the peer needs a local ONNX export (run `ragbus model prepare`)")
    tokenizer = Tokenizer.from_file(str(resolved.path / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    splitter = SentenceSplitter(
        chunk_size=CHUNK_TOKENS,
        chunk_overlap=OVERLAP_TOKENS,
        tokenizer=lambda text: tokenizer.encode(text, add_special_tokens=False).ids,
    )
    embed = FastEmbedEmbedding(
        model_name=register_export(resolved),
        specific_model_path=str(resolved.path),
        threads=settings.embed_threads,
    )
    store = QdrantVectorStore(client=QdrantClient(path=str(qdrant_dir)), collection_name="peer")
    pipeline = IngestionPipeline(transformations=[splitter, embed], vector_store=store)
    documents = [Document(text=t) for t in json.loads(inputs.read_text())]
    started = time.perf_counter()
    nodes = pipeline.run(documents=documents)
    seconds = time.perf_counter() - started
    return {
        "peer_documents": len(documents),
        "peer_chunks": len(nodes),
        "peer_seconds": seconds,
        "peer_docs_per_s": len(documents) / seconds,
        "peer_chunks_per_s": len(nodes) / seconds,
        "peer_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


if __name__ == "__main__":
    print(json.dumps(_main(Path(sys.argv[1]), Path(sys.argv[2]))))
