"""The gateway's OpenAPI document: committed as generated, and typed where clients read it.

``schemas/jsonschema/openapi.json`` is what the TypeScript SDK's types are generated
from, so it must be exactly what the routes give (``ragbus schemas export`` writes
it), and the routes clients use must declare typed bodies, not ``{}``.
"""

import json
from pathlib import Path
from typing import Any

import pytest

from ragbus_tools.openapi_export import openapi_document

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
CLIENT_ROUTES = (
    "/v1/documents",
    "/v1/retrieve",
    "/v1/query",
    "/v1/queries",
    "/v1/conversations",
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/models",
)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return openapi_document()


def test_the_committed_document_is_the_generated_one(document: dict[str, Any]) -> None:
    committed = json.loads((REPO / "schemas" / "jsonschema" / "openapi.json").read_text())
    assert committed == document, "openapi.json is stale: run `ragbus schemas export`"


def test_client_routes_declare_typed_json_bodies(document: dict[str, Any]) -> None:
    untyped = []
    for path, operations in document["paths"].items():
        if not path.startswith(CLIENT_ROUTES) or path.endswith("/events"):
            continue
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and schema is not None and "$ref" not in schema:
                    untyped.append(f"{method.upper()} {path} {status}")
    assert untyped == []


def test_openai_routes_document_openai_errors(document: dict[str, Any]) -> None:
    responses = document["paths"]["/v1/chat/completions"]["post"]["responses"]
    for status in ("400", "401", "429"):
        ref = responses[status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/OpenAIErrorBody"), status
    assert document["paths"]["/v1/documents"]["get"]["responses"]["401"]["content"]
