"""CORS for front ends served from another origin (``RAGBUS_GATEWAY_CORS_ORIGINS``)."""

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from gateway.settings import GatewaySettings

ALLOWED_HEADERS = ("Authorization", "Content-Type", "Accept", "Last-Event-ID")
"""What a browser client sends: the bearer credential, JSON or multipart bodies, SSE
resumption."""
EXPOSED_HEADERS = ("Retry-After", "WWW-Authenticate")
"""What a browser client must read on a refusal: when to retry, why a token failed."""


def add_cors(app: FastAPI, settings: GatewaySettings) -> None:
    """Answer preflights and add CORS headers for the configured origins, if any.

    Credentials are bearer tokens in ``Authorization``, never cookies, so
    ``allow_credentials`` stays off and ``*`` is safe to allow: a foreign page still
    needs a token to call anything. Added last, the middleware is the outermost, so
    refusals (401, 413, 429) carry the headers too and the browser can read them.
    """
    if not settings.cors_origins:
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PUT", "DELETE"],
        allow_headers=list(ALLOWED_HEADERS),
        expose_headers=list(EXPOSED_HEADERS),
        max_age=600,
    )
