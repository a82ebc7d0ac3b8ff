"""The web app at ``/``, its files, and the API documentation pages, all served offline.

No credential is needed for these: they are static pages, and every call they make
to ``/v1/...`` carries the signed-in user's bearer token. See docs/web.md.
"""

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

from gateway.web import asyncapi_view
from gateway.web.assets import DOCS, PAGE_SECURITY, WEB

router = APIRouter(include_in_schema=False)
DOCS_URL = "/static/docs"


@router.get("/")
async def web_app(request: Request) -> Response:
    """The single page of the web app (sign in, library, chat, admin)."""
    return WEB.response(request, "index.html", PAGE_SECURITY)


@router.get("/static/web/{name}")
async def web_file(request: Request, name: str) -> Response:
    """A file of the web app (stylesheet, ES modules)."""
    return WEB.response(request, name)


@router.get(DOCS_URL + "/{name}")
async def docs_file(request: Request, name: str) -> Response:
    """Swagger UI's and ReDoc's bundles, as shipped in the ``fastapi-offline`` wheel."""
    return DOCS.response(request, name)


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI of ``/openapi.json``, with local assets."""
    return get_swagger_ui_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API",
        swagger_js_url=f"{DOCS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_URL}/favicon.png",
        swagger_ui_parameters={"persistAuthorization": True},
    )


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    """ReDoc of ``/openapi.json``, with local assets and no web fonts."""
    return get_redoc_html(
        openapi_url=request.app.openapi_url,
        title=f"{request.app.title} - API reference",
        redoc_js_url=f"{DOCS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{DOCS_URL}/favicon.png",
        with_google_fonts=False,
    )


@router.get("/asyncapi")
async def asyncapi() -> HTMLResponse:
    """The event contracts (``schemas/jsonschema/asyncapi.json``) as a page."""
    return HTMLResponse(asyncapi_view.render())
