"""Static files served from the package: the web app's and the API docs' bundles.

Only files present when the gateway starts are served (a fixed name -> path map),
so no request path can reach outside the folder. Responses carry an ``ETag``; a
matching ``If-None-Match`` is answered ``304`` without a body.
"""

import mimetypes
from dataclasses import dataclass, field
from pathlib import Path

import fastapi_offline
from fastapi import HTTPException, Request
from fastapi.responses import FileResponse, Response

WEB_STATIC = Path(__file__).parent / "static"
"""The web app: ``index.html``, ``app.css`` and the ES modules."""
DOCS_STATIC = Path(fastapi_offline.__file__).parent / "static"
"""Swagger UI and ReDoc as the ``fastapi-offline`` wheel ships them."""
PAGE_SECURITY = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Headers of the app's page: scripts, styles and requests from this origin only."""


@dataclass(frozen=True)
class AssetFolder:
    """A folder's files, served by name.

    Attributes:
        files: File name -> path, read once.
        cache_control: ``Cache-Control`` of every response.
    """

    files: dict[str, Path]
    cache_control: str
    edits: dict[str, tuple[bytes, bytes]] = field(default_factory=dict)

    @classmethod
    def of(
        cls, folder: Path, cache_control: str, edits: dict[str, tuple[bytes, bytes]] | None = None
    ) -> "AssetFolder":
        """The files directly in ``folder``; ``edits`` maps a name to ``(old, new)``
        bytes replaced in that file as it is served."""
        files = {p.name: p for p in folder.iterdir() if p.is_file()}
        return cls(files, cache_control, edits or {})

    def response(
        self, request: Request, name: str, headers: dict[str, str] | None = None
    ) -> Response:
        """The file ``name``, or ``304`` when the client's copy is current.

        Raises:
            HTTPException: 404 for a name that is not one of the files.
        """
        path = self.files.get(name)
        if path is None:
            raise HTTPException(404, "Not Found")
        stat = path.stat()
        etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
        sent = {"Cache-Control": self.cache_control, "ETag": etag, **(headers or {})}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=sent)
        if name in self.edits:
            old, new = self.edits[name]
            content = path.read_bytes().replace(old, new)
            media_type = mimetypes.guess_type(name)[0]
            return Response(content, media_type=media_type, headers=sent)
        return FileResponse(path, headers=sent)


WEB = AssetFolder.of(WEB_STATIC, "no-cache")
"""Revalidated on every load (a 304 costs a round trip, never a stale app)."""
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"
"""ReDoc's bundle loads its sidebar logo from here; served offline, it gets a blank image."""
DOCS = AssetFolder.of(
    DOCS_STATIC,
    "public, max-age=86400",
    {
        "redoc.standalone.js": (
            REDOC_LOGO,
            b"data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E",
        )
    },
)
"""Versioned with the installed wheel; a day's caching is safe."""
