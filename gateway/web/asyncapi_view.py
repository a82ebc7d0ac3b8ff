"""``/asyncapi``: the committed AsyncAPI document (``schemas/jsonschema/asyncapi.json``)
rendered as one HTML page on the server, without a JavaScript renderer.

The page lists each channel (its NATS subject, who sends and who receives it, its
message) and each payload schema (fields, types, required, description). It reads
the same file that ``ragbus schemas export`` writes, at every request, so it can
never disagree with the file served elsewhere.
"""

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jinja2 import Environment, FileSystemLoader, select_autoescape

ASYNCAPI_FILE = Path(str(resources.files("schemas") / "jsonschema" / "asyncapi.json"))
"""The committed document (installed with the ``schemas`` package)."""
_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
)


@dataclass
class Field:
    """One property of a payload schema, as shown."""

    name: str
    type: str
    required: bool
    description: str


@dataclass
class Schema:
    """A payload schema: its name, first paragraph of description, and fields."""

    name: str
    description: str
    fields: list[Field]


@dataclass
class Channel:
    """A NATS subject with the operations on it and its message's payload schema."""

    address: str
    operations: list[str] = field(default_factory=list)
    payload: str | None = None


def _ref_target(document: dict[str, Any], ref: str) -> Any:
    """What a local ``$ref`` (``#/a/b%2Ac``) points at in ``document``."""
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[unquote(part).replace("~1", "/").replace("~0", "~")]
    return node


def type_of(prop: dict[str, Any]) -> str:
    """A short type: ``string (uuid)``, ``integer | null``, ``array of Citation``..."""
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in prop:
        return " | ".join(type_of(p) for p in prop["anyOf"])
    kind = str(prop.get("type", "any"))
    if kind == "array" and isinstance(prop.get("items"), dict):
        return f"array of {type_of(prop['items'])}"
    if "const" in prop:
        return f"{kind} = {json.dumps(prop['const'])}"
    return f"{kind} ({prop['format']})" if "format" in prop else kind


def schema_view(name: str, schema: dict[str, Any]) -> Schema:
    """The page's view of one schema of ``components.schemas``."""
    required = set(schema.get("required", ()))
    fields = [
        Field(key, type_of(prop), key in required, str(prop.get("description", "")))
        for key, prop in schema.get("properties", {}).items()
    ]
    description = str(schema.get("description", "")).split("\n\n", 1)[0]
    return Schema(name, description, fields)


def channel_views(document: dict[str, Any]) -> list[Channel]:
    """The channels by subject, each with ``send``/``receive`` operations and payload."""
    channels: dict[str, Channel] = {}
    for channel_id, channel in document.get("channels", {}).items():
        view = channels.setdefault(channel["address"], Channel(channel["address"]))
        for message in channel.get("messages", {}).values():
            payload = _ref_target(document, message["$ref"]).get("payload", {})
            view.payload = view.payload or type_of(payload)
        for op_id, op in document.get("operations", {}).items():
            if unquote(op["channel"]["$ref"].removeprefix("#/channels/")) == channel_id:
                handler = op_id.split(":", 1)[-1].removesuffix("Subscribe")
                view.operations.append(f"{op['action']} ({handler})")
    return sorted(channels.values(), key=lambda c: c.address)


def render(path: Path = ASYNCAPI_FILE) -> str:
    """The HTML page of the AsyncAPI document at ``path``."""
    document = json.loads(path.read_text())
    schemas = document.get("components", {}).get("schemas", {})
    return _TEMPLATES.get_template("asyncapi.html").render(
        info=document.get("info", {}),
        version=document.get("asyncapi"),
        servers=document.get("servers", {}),
        channels=channel_views(document),
        schemas=[schema_view(name, schemas[name]) for name in sorted(schemas)],
    )
