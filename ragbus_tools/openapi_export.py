"""The gateway's OpenAPI document, written to a file without starting anything.

``ragbus schemas export`` writes it next to the events' JSON Schemas
(``schemas/jsonschema/openapi.json``); the TypeScript SDK's HTTP types are
generated from it (``clients/typescript``, openapi-typescript), and a test fails
when the committed file no longer matches the routes.
"""

import json
from pathlib import Path
from typing import Any


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document FastAPI derives from the gateway's routes and models.

    The app is built but never started: no server, database or NATS is touched.
    """
    from gateway.app import create_app
    from gateway.settings import GatewaySettings
    from ragbus.settings import InfraSettings

    app = create_app(InfraSettings(), GatewaySettings())
    return app.openapi()


def openapi_json() -> str:
    """:func:`openapi_document` as stable JSON (sorted keys, two-space indent)."""
    return json.dumps(openapi_document(), indent=2, sort_keys=True)


def write_openapi(path: Path) -> Path:
    """Write :func:`openapi_json` to ``path`` (a trailing newline added); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(openapi_json() + "\n")
    return path
