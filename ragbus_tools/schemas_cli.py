"""``ragbus schemas export``: the event contracts and the HTTP API, written from the code.

Writes the JSON Schema of every event (``schemas/jsonschema/v*/``), the AsyncAPI
document (``asyncapi.json``) and the gateway's OpenAPI document (``openapi.json``,
:mod:`ragbus_tools.openapi_export`), all generated from the pydantic models and
routes, so the TypeScript SDK's types (``clients/typescript``) are generated from
them in turn.
"""

from pathlib import Path
from typing import Annotated

import typer

schemas_app = typer.Typer(help="Event contracts and the HTTP API.", no_args_is_help=True)


@schemas_app.command("export")
def schemas_export(
    out: Annotated[Path, typer.Argument(help="Output folder.")] = Path("schemas/jsonschema"),
) -> None:
    """Write JSON Schema for every event, the AsyncAPI and the OpenAPI documents."""
    from ragbus_tools.asyncapi import asyncapi_json
    from ragbus_tools.openapi_export import write_openapi
    from schemas.export import export_json_schemas

    for path in export_json_schemas(out):
        typer.echo(path)
    spec = out / "asyncapi.json"
    spec.write_text(asyncapi_json() + "\n")
    typer.echo(spec)
    typer.echo(write_openapi(out / "openapi.json"))
