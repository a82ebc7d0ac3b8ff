"""The web app's files, the offline API docs, the AsyncAPI page and CORS, without servers.

The routes of :mod:`gateway.routes.web` need no state, so a bare FastAPI app serves
them; CORS is checked on the real gateway app (a preflight never reaches a route,
so the lifespan and its servers are not needed).
"""

import re
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.app import create_app
from gateway.routes import web
from gateway.settings import GatewaySettings
from gateway.web.asyncapi_view import ASYNCAPI_FILE, channel_views, type_of
from ragbus.settings import InfraSettings

pytestmark = pytest.mark.unit
EXTERNAL = re.compile(r"""(src|href)=["']?(https?:)?//""")


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI(docs_url=None, redoc_url=None)
    app.include_router(web.router)
    return TestClient(app)


def test_the_page_loads_nothing_from_elsewhere(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert not EXTERNAL.search(page.text)
    for asset in re.findall(r'(?:src|href)="(/static/web/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200, asset


def test_files_are_revalidated_with_etags_and_nothing_else_is_served(client: TestClient) -> None:
    first = client.get("/static/web/api.js")
    assert first.status_code == 200 and "javascript" in first.headers["content-type"]
    again = client.get("/static/web/api.js", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    for name in ("..%2F__init__.py", "assets.py", "missing.js"):
        assert client.get(f"/static/web/{name}").status_code == 404, name


def test_docs_and_redoc_use_the_bundled_assets(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        html = client.get(path).text
        assert not EXTERNAL.search(html), path
        for asset in re.findall(r"""["'](/static/docs/[^"']+)["']""", html):
            assert client.get(asset).status_code == 200, asset
    redoc = client.get("/static/docs/redoc.standalone.js")
    assert redoc.status_code == 200 and b"cdn.redoc.ly" not in redoc.content


def test_asyncapi_page_shows_every_channel_of_the_committed_file(client: TestClient) -> None:
    import json

    document = json.loads(ASYNCAPI_FILE.read_text())
    page = client.get("/asyncapi").text
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses and all(f"<code>{a}</code>" in page for a in addresses)
    for schema in document["components"]["schemas"]:
        assert f'id="schema-{schema}"' in page
    assert all(view.operations and view.payload for view in channel_views(document))


@pytest.mark.parametrize(
    ("prop", "shown"),
    [
        ({"type": "string", "format": "uuid"}, "string (uuid)"),
        ({"anyOf": [{"type": "integer"}, {"type": "null"}]}, "integer | null"),
        (
            {"type": "array", "items": {"$ref": "#/components/schemas/Citation"}},
            "array of Citation",
        ),
        ({"const": 2, "type": "integer"}, "integer = 2"),
    ],
)
def test_types_are_shown_short(prop: dict[str, Any], shown: str) -> None:
    assert type_of(prop) == shown


def _preflight(app: FastAPI, origin: str) -> Any:
    return TestClient(app).options(
        "/v1/query",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )


def test_cors_allows_the_configured_origins_only() -> None:
    settings = GatewaySettings(cors_origins="https://app.example, https://b.example")
    assert settings.cors_origins == ["https://app.example", "https://b.example"]
    app = create_app(InfraSettings(), settings)
    allowed = _preflight(app, "https://b.example")
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://b.example"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    refused = _preflight(app, "https://evil.example")
    assert "access-control-allow-origin" not in refused.headers


def test_no_cors_headers_by_default() -> None:
    reply = _preflight(create_app(InfraSettings(), GatewaySettings()), "https://app.example")
    assert "access-control-allow-origin" not in reply.headers
