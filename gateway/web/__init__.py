"""The web app the gateway serves at ``/``, and its offline API documentation.

The app is static files (``static/``: one HTML page, a stylesheet and a few small
ES modules, no build step) that call the same HTTP API and SSE streams as any other
client, with the same bearer tokens. ``/docs`` and ``/redoc`` use the Swagger UI and
ReDoc bundles shipped in the ``fastapi-offline`` wheel, and ``/asyncapi`` renders
the committed ``schemas/jsonschema/asyncapi.json`` on the server. Nothing is
fetched from a CDN. See docs/web.md.
"""
