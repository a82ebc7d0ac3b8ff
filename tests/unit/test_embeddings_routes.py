"""``POST /v1/embeddings`` on the real app, embed_svc's logic behind a fake bus, no servers."""

import base64
import json
from typing import Any

import nats.errors
import numpy as np
import openai
import pytest
from fastapi.testclient import TestClient

from embed_svc.model_lock import ModelLock
from embed_svc.texts_embedding import EmbeddingsApi
from gateway.answer_hub import AnswerHub
from gateway.app import create_app
from gateway.auth.authenticate import Authenticator
from gateway.auth.settings import AuthSettings
from gateway.embeddings import UNAVAILABLE
from gateway.settings import GatewaySettings
from gateway.state import GatewayState
from ragbus.embedding import FakeEmbedder
from ragbus.settings import InfraSettings
from schemas import MAX_EMBED_INPUTS, EmbedTexts
from schemas import subjects as s

pytestmark = pytest.mark.unit

EMBEDDER = FakeEmbedder(max_tokens=16)


class BusToEmbedSvc:
    """Answers ``texts.embed`` with embed_svc's logic, through JSON as on the wire."""

    def __init__(self, fail: Exception | None = None, embedder: FakeEmbedder = EMBEDDER) -> None:
        self.fail = fail
        self.api = EmbeddingsApi(embedder, ModelLock())
        self.requests: list[EmbedTexts] = []

    async def request(self, event: Any, subject: str, *, timeout_s: float) -> Any:
        assert subject == s.TEXTS_EMBED
        if self.fail is not None:
            raise self.fail
        wire = EmbedTexts.model_validate_json(event.model_dump_json())
        self.requests.append(wire)
        return json.loads((await self.api.embed(wire)).model_dump_json())


# Route logic is tested behind a proxy that vouches for the caller (an admin);
# authentication itself is tests/e2e/test_security.py's.
TRUSTED_HEADERS = Authenticator(
    AuthSettings(mode="trusted-headers", default_role="admin"), None, None
)  # type: ignore[arg-type]


def client(bus: BusToEmbedSvc | None = None) -> tuple[TestClient, BusToEmbedSvc]:
    bus = bus or BusToEmbedSvc()
    settings = GatewaySettings(embeddings_timeout_s=7.0)
    app = create_app(InfraSettings(), settings)
    app.state.gateway = GatewayState(
        settings=settings,
        documents=None,  # type: ignore[arg-type]
        blobs=None,  # type: ignore[arg-type]
        publisher=bus,  # type: ignore[arg-type]
        hub=AnswerHub(),
        ready=True,
        auth=TRUSTED_HEADERS,
    )
    return TestClient(app, headers={"X-Tenant-ID": "acme"}), bus


def test_a_string_is_one_float_vector_with_usage() -> None:
    http, bus = client()
    reply = http.post("/v1/embeddings", json={"input": "child process output", "model": "ragbus"})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["object"] == "list" and body["model"] == "fake/hashing-384"
    ((item),) = body["data"]
    assert (item["object"], item["index"], len(item["embedding"])) == ("embedding", 0, 384)
    expected = EMBEDDER.embed_documents(["child process output"])[0]
    assert np.array_equal(np.array(item["embedding"], dtype=np.float32), expected)
    assert body["usage"] == {"prompt_tokens": 3, "total_tokens": 3}
    assert body["ragbus"] == {"token_counts": [3], "truncated": []}
    (request,) = bus.requests
    assert request.tenant_id == "acme" and request.model == "ragbus"
    assert request.expires_at is not None and request.expires_at > request.occurred_at


def test_base64_is_the_same_vectors_as_little_endian_float32() -> None:
    http, _ = client()
    texts = ["one", "two words", "three more words"]
    floats = http.post("/v1/embeddings", json={"input": texts}).json()["data"]
    packed = http.post("/v1/embeddings", json={"input": texts, "encoding_format": "base64"})
    for f, b in zip(floats, packed.json()["data"], strict=True):
        decoded = np.frombuffer(base64.b64decode(b["embedding"]), dtype="<f4")
        assert decoded.tolist() == f["embedding"]


def test_the_official_client_gets_vectors_in_its_default_base64_and_in_float() -> None:
    http, _ = client()
    oai = openai.OpenAI(base_url="http://testserver/v1", api_key="x", http_client=http)
    texts = ["first input", "second input"]
    default = oai.embeddings.create(model="ragbus", input=texts)  # sends base64, decodes it
    floats = oai.embeddings.create(model="ragbus", input=texts, encoding_format="float")
    expected = EMBEDDER.embed_documents(texts)
    for result in (default, floats):
        assert [d.index for d in result.data] == [0, 1]
        assert np.array_equal(np.array([d.embedding for d in result.data], np.float32), expected)
    assert default.usage.prompt_tokens == default.usage.total_tokens == 4


def test_a_long_input_is_truncated_to_the_window_and_said_so() -> None:
    http, _ = client()
    body = http.post("/v1/embeddings", json={"input": ["short", "w " * 40]}).json()
    assert body["ragbus"] == {"token_counts": [1, 14], "truncated": [1]}  # 16 - [CLS], [SEP]
    assert body["usage"]["prompt_tokens"] == 15


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "input is required: a string or a list of strings"),
        ({"input": []}, "input is an empty list; send at least one string"),
        ({"input": ""}, "input is an empty string"),
        ({"input": ["ok", ""]}, "input[1] is an empty string"),
        ({"input": ["x"] * 257}, f"input has 257 items; the limit is {MAX_EMBED_INPUTS}"),
        ({"input": 3}, "input must be a string or a list of strings, not a number"),
        ({"input": {"text": "x"}}, "input must be a string or a list of strings, not an object"),
        ({"input": ["ok", None]}, "input[1] must be a string, not null"),
        ({"input": ["ok", True]}, "input[1] must be a string, not a boolean"),
        ({"input": [[101, 2023]]}, "input[0] is a token array; ragbus embeds text only"),
        ({"input": [101, 2023]}, "input[0] is a token array; ragbus embeds text only"),
        ({"input": "x" * 8193}, "input has 8193 characters; the limit is 8192"),
        ({"input": ["é" * 8000] * 17}, "input is 272000 bytes of UTF-8 together; the limit"),
        ({"input": "x", "encoding_format": "int8"}, "encoding_format must be 'float' or"),
        ({"input": "x", "dimensions": "384"}, "dimensions must be a positive integer"),
        ({"input": "x", "model": 4}, "model must be a string"),
        ([1, 2], "the body must be a JSON object"),
    ],
)
def test_a_bad_body_is_400_naming_what_was_wrong(body: Any, message: str) -> None:
    http, bus = client()
    reply = http.post("/v1/embeddings", json=body)
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["message"].startswith(message)
    assert error["type"] == "invalid_request_error"
    assert bus.requests == []


def test_an_unknown_model_is_404_model_not_found() -> None:
    http, _ = client()
    reply = http.post("/v1/embeddings", json={"input": "x", "model": "text-embedding-3-small"})
    assert reply.status_code == 404
    error = reply.json()["error"]
    assert (error["code"], error["param"]) == ("model_not_found", "model")
    assert error["message"].startswith("the model 'text-embedding-3-small' does not exist")


def test_other_dimensions_are_400() -> None:
    http, _ = client()
    assert http.post("/v1/embeddings", json={"input": "x", "dimensions": 384}).status_code == 200
    reply = http.post("/v1/embeddings", json={"input": "x", "dimensions": 256})
    assert reply.status_code == 400
    assert (
        reply.json()["error"]["message"] == "dimensions must be 384, the model's size (or left out)"
    )
    assert reply.json()["error"]["param"] == "dimensions"


def test_not_json_is_400_and_a_huge_body_is_413() -> None:
    http, _ = client()
    reply = http.post(
        "/v1/embeddings", content=b"{not json", headers={"Content-Type": "text/plain"}
    )
    assert (reply.status_code, reply.json()["error"]["message"]) == (
        400,
        "the body is not valid JSON",
    )
    huge = http.post("/v1/embeddings", content=b" " * (2 * 1024 * 1024 + 1))
    assert huge.status_code == 413


@pytest.mark.parametrize(
    "failure",
    [
        TimeoutError(),
        nats.errors.TimeoutError(),
        nats.errors.NoRespondersError(),
        nats.errors.ConnectionClosedError(),
    ],
)
def test_no_answer_from_embed_svc_is_503_with_a_fixed_message(failure: Exception) -> None:
    http, _ = client(BusToEmbedSvc(fail=failure))
    reply = http.post("/v1/embeddings", json={"input": "x"})
    assert reply.status_code == 503
    assert reply.json()["error"] == {
        "message": UNAVAILABLE,
        "type": "server_error",
        "param": None,
        "code": None,
    }


def test_a_model_failure_is_503_and_leaks_nothing() -> None:
    class Broken(FakeEmbedder):
        def embed_documents(self, texts):  # type: ignore[no-untyped-def]
            raise RuntimeError("/secret/path/model.onnx is corrupt")

    http, _ = client(BusToEmbedSvc(embedder=Broken()))
    reply = http.post("/v1/embeddings", json={"input": "x"})
    assert reply.status_code == 503
    assert reply.json()["error"]["message"] == UNAVAILABLE and "secret" not in reply.text


def test_a_missing_tenant_is_refused() -> None:
    http, bus = client()
    reply = http.post("/v1/embeddings", json={"input": "x"}, headers={"X-Tenant-ID": ""})
    assert reply.status_code == 401 and bus.requests == []  # no identity, nothing sent
