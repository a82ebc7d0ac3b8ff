"""Write JSON Schema (draft 2020-12) for every event of this contract version, one per subject."""

import json
from pathlib import Path

from schemas.catalog import EVENTS, REPLIES
from schemas.dead_letters import DLQ_SUBJECTS, DeadLettered
from schemas.envelope import SCHEMA_VERSION
from schemas.subjects import PER_QUERY, TENANT_SCOPED


def concrete_pattern(family: str) -> str:
    """How a family's subjects look, e.g. ``answer.delta.{tenant}.{query_id}``."""
    if family in PER_QUERY:
        return f"{family}.{{tenant}}.{{query_id}}"
    if family in TENANT_SCOPED:
        return f"{family}.{{tenant}}"
    return family


def export_json_schemas(out: Path) -> list[Path]:
    """Write ``out/v<version>/<subject>.json`` (and ``.reply.json``); returns the paths.

    Dead letters, on every ``dlq.>`` subject, get one file: ``out/v<version>/dlq.json``.
    Tenant-scoped subjects are named by their family (``document.uploaded``); the
    file's ``x-nats-subject`` gives the concrete pattern (``document.uploaded.{tenant}``).
    """
    folder = out / f"v{SCHEMA_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    items = [(subject, model, "") for subject, model in EVENTS.items()]
    items += [(subject, model, ".reply") for subject, model in REPLIES.items()]
    items.append((DLQ_SUBJECTS, DeadLettered, ""))
    for subject, model, suffix in items:
        schema = model.model_json_schema(mode="serialization")
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["$id"] = f"ragbus:v{SCHEMA_VERSION}:{subject}{suffix}"
        schema["x-nats-subject"] = concrete_pattern(subject)
        path = folder / f"{subject.removesuffix('.>')}{suffix}.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
