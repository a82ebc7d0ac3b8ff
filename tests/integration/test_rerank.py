"""Reranking through litellm's real rerank client against a Cohere-compatible server."""

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from ragbus.embedding.fake import FakeEmbedder
from ragbus.stores.documents import DocumentRepository
from retrieve_svc.document_filters import DocumentFilters
from retrieve_svc.rerank import LiteLLMReranker, RerankUnavailableError
from retrieve_svc.service import RetrieveConfig, RetrieveService
from schemas.queries import RetrievalOptions
from tests.integration.retrieval_world import index_document, open_local_store

pytestmark = pytest.mark.integration


class CohereRerank(BaseHTTPRequestHandler):
    """``POST /v1|v2/rerank`` in Cohere's format; relevance = shared words with the query
    plus 10 if the document mentions "penguin" (so the order differs from search)."""

    requests: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        CohereRerank.requests.append({"path": self.path, **body})
        query = set(body["query"].lower().split())
        scores = [
            len(query & set(d.lower().split())) + (10 if "penguin" in d.lower() else 0)
            for d in body["documents"]
        ]
        results = sorted(
            ({"index": i, "relevance_score": float(s)} for i, s in enumerate(scores)),
            key=lambda r: -r["relevance_score"],
        )[: body.get("top_n") or len(scores)]
        payload = json.dumps({"id": "r1", "results": results, "meta": {}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def rerank_url():
    server = ThreadingHTTPServer(("127.0.0.1", 0), CohereRerank)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def test_litellm_reranker_orders_by_the_provider_s_relevance(rerank_url):
    reranker = LiteLLMReranker("cohere/rerank-english-v3.0", api_base=rerank_url, api_key="k")
    order = await reranker.rerank("cold birds", ["warm fish", "cold birds fly", "a penguin"])
    assert [i for i, _ in order] == [2, 1, 0]
    assert order[0][1] == 10.0
    assert CohereRerank.requests[-1]["path"] in ("/v1/rerank", "/v2/rerank")  # by model
    assert await reranker.rerank("q", []) == []


async def test_the_service_reranks_the_candidates_and_refuses_without_a_reranker(
    pool, tmp_path, rerank_url
):
    embedder = FakeEmbedder(dim=32)
    vectors = await open_local_store(tmp_path, "rr", embedder)
    docs = DocumentRepository(pool)
    tenant = f"rr-{uuid.uuid4().hex[:8]}"
    question = "where do cold birds live"
    close = await index_document(docs, vectors, embedder, tenant, ["where do cold birds live"])
    penguin = await index_document(docs, vectors, embedder, tenant, ["penguin colonies"])
    reranker = LiteLLMReranker("cohere/rerank-english-v3.0", api_base=rerank_url, api_key="k")
    config = RetrieveConfig(default_mode="dense")
    plain = RetrieveService(docs, vectors, embedder, DocumentFilters(pool), config)
    reranked = RetrieveService(
        docs, vectors, embedder, DocumentFilters(pool), config, reranker=reranker
    )
    before, _ = await plain.retrieve(tenant, question, 2)
    after, timings = await reranked.retrieve(tenant, question, 2)
    assert [p.document_id for p in before] == [close, penguin]
    assert [p.document_id for p in after] == [penguin, close]
    assert after[0].score == 10.0 and timings.rerank_ms is not None
    skipped, _ = await reranked.retrieve(tenant, question, 2, RetrievalOptions(rerank=False))
    assert [p.document_id for p in skipped] == [close, penguin]
    with pytest.raises(RerankUnavailableError):
        await plain.retrieve(tenant, question, 2, RetrievalOptions(rerank=True))
    await vectors.close()
