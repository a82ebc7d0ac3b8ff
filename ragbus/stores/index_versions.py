"""Each tenant's index version: bumped whenever what retrieval can see changes.

``tenant_index_versions`` holds one counter per tenant. The documents store bumps it
in the same statement that makes a document version searchable or deletes a
document, so anything keyed on it (the gateway's answer cache) is invalidated
exactly when an answer could change.
"""

BUMP_INDEX_VERSION = """INSERT INTO tenant_index_versions (tenant_id, version)
    SELECT $1, 1 FROM {changed}
    ON CONFLICT (tenant_id) DO UPDATE
    SET version = tenant_index_versions.version + 1, updated_at = now()"""
"""A data-modifying CTE body bumping tenant ``$1``'s version once per row of
``{changed}`` (at most one: a single document's UPDATE ... RETURNING)."""


def bump_index_version_sql(changed: str) -> str:
    """The SQL that bumps tenant ``$1``'s index version if CTE ``changed`` has a row.

    Args:
        changed: Name of a data-modifying CTE of the same statement, so the bump
            commits (or not) with the change itself.
    """
    return BUMP_INDEX_VERSION.format(changed=changed)
