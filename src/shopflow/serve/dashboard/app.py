"""The dashboard as an ASGI app (Starlette): mount it in `shopflow serve`, or run it alone.

Addresses: `/` (the index, or the only pipeline's first page), `/<pipeline>/<page>.html`,
`/<pipeline>/health.html`, `/static/<file>`. With a token, every address but `/login` needs
it: as `Authorization: Bearer <token>`, or the cookie `/login` sets after the form.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from shopflow.serve.dashboard.render import (
    ASSETS,
    INDEX,
    PAGE_SUFFIX,
    PageNotFoundError,
    asset,
    first_page,
    render_index,
    render_page,
)
from shopflow.serve.dashboard.site import DashboardPipeline

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

log = logging.getLogger(__name__)

COOKIE = "shopflow_dashboard"
_CONTENT_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def cookie_value(token: str) -> str:
    """What the login cookie holds: a keyed hash of the token, never the token itself."""
    return hmac.new(token.encode(), b"shopflow-dashboard-session", hashlib.sha256).hexdigest()


def create_app(pipelines: list[DashboardPipeline], *, token: str | None = None) -> Any:
    """The dashboard's ASGI app over `pipelines`.

    Args:
        pipelines: What it shows; each brings its own way into its warehouse.
        token: If set, every page needs it (the login form, a Bearer header, or its cookie).

    Returns:
        A Starlette app; `shopflow serve` mounts it (`app.mount("/dashboard", ...)`).
    """
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.gzip import GZipMiddleware
    from starlette.responses import HTMLResponse, RedirectResponse, Response
    from starlette.routing import Route

    def index(request: Request) -> Response:
        if len(pipelines) == 1:
            only = pipelines[0]
            return RedirectResponse(f"{only.name}/{first_page(only)}{PAGE_SUFFIX}", status_code=307)
        return HTMLResponse(render_index(pipelines))

    def index_page(request: Request) -> Response:
        return HTMLResponse(render_index(pipelines))

    def pipeline_root(request: Request) -> Response:
        found = next((p for p in pipelines if p.name == request.path_params["pipeline"]), None)
        if found is None:
            return _not_found(f"no pipeline named {request.path_params['pipeline']!r}")
        return RedirectResponse(f"{first_page(found)}{PAGE_SUFFIX}", status_code=307)

    def page(request: Request) -> Response:
        try:
            html = render_page(pipelines, request.path_params["pipeline"], request.path_params["page"],
                               dict(request.query_params))
        except PageNotFoundError as exc:
            return _not_found(str(exc))
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return _not_found(f"no static file {name!r}")
        headers = {"Cache-Control": "public, max-age=3600", "Vary": "Accept-Encoding"}
        body = asset_bytes(name)
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = asset_bytes(name, gzipped=True)
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=_CONTENT_TYPES[name[name.rfind("."):]], headers=headers)

    async def login(request: Request) -> Response:
        fields = parse_qs((await request.body()).decode("utf-8", "replace")) if request.method == "POST" else {}
        given = (fields.get("token") or [""])[0]
        target = (fields.get("next") or [""])[0]
        back = target if target.startswith(request.scope.get("root_path", "") + "/") and "//" not in target else ""
        if token is not None and given and hmac.compare_digest(given.encode(), token.encode()):
            response = RedirectResponse(back or _root(request), status_code=303)
            response.set_cookie(COOKIE, cookie_value(token), httponly=True, samesite="strict",
                                path=_root(request))
            return response
        return _login_form(request, back, failed=bool(given))

    def _not_found(message: str) -> Response:
        return HTMLResponse(f"<!doctype html><title>not found</title><p>{_escape(message)}</p>"
                            '<p><a href="../index.html">back to the dashboard</a></p>', status_code=404)

    routes = [
        Route("/", index),
        Route(f"/{INDEX}", index_page),
        Route("/login", login, methods=["GET", "POST"]),
        Route("/static/{name}", static),
        Route("/{pipeline}/", pipeline_root),
        Route("/{pipeline}/{page}" + PAGE_SUFFIX, page),
    ]
    middleware = [Middleware(GZipMiddleware, minimum_size=2048)]
    if token is not None:
        middleware.insert(0, Middleware(TokenGate, token=token))
    return Starlette(routes=routes, middleware=middleware)


@functools.cache
def asset_bytes(name: str, *, gzipped: bool = False) -> bytes:
    """A static file as served, compressed once (plotly.min.js is 4.8 MB, 1.4 MB gzipped)."""
    data = asset(name).encode("utf-8")
    return gzip.compress(data, compresslevel=6) if gzipped else data


def warm(pipelines: list[DashboardPipeline]) -> None:
    """Do before the first request what it would wait for: compress the static files, render each first page.

    Rendering takes each warehouse's first copy and warms the templates and the database's caches.
    """
    for name in ASSETS:
        asset_bytes(name, gzipped=True)
    for pipeline in pipelines:
        try:
            render_page(pipelines, pipeline.name, first_page(pipeline))
        except Exception as exc:  # the page will show it; nothing to stop the server for
            log.info("pipeline %s: first page not ready: %s", pipeline.name, exc)


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")) + "/"


def _escape(text: str) -> str:
    import html

    return html.escape(text)


def _login_form(request: Request, back: str, *, failed: bool) -> Response:
    from starlette.responses import HTMLResponse

    note = '<p class="chart-error">That token is not right.</p>' if failed else ""
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1"><title>shopflow dashboard</title>'
        f'<link rel="stylesheet" href="{_root(request)}static/dashboard.css"></head><body><main>'
        "<h1>shopflow dashboard</h1><p>This dashboard needs its token (the one <code>shopflow dashboard "
        "--token</code> was started with).</p>"
        f'{note}<form class="filters" method="post" action="{_root(request)}login">'
        '<label>Token <input type="password" name="token" autocomplete="current-password" autofocus></label>'
        f'<input type="hidden" name="next" value="{_escape(back)}"><button type="submit">Open</button></form>'
        "</main></body></html>"
    )
    return HTMLResponse(body, status_code=401 if failed or request.method == "GET" else 200)


class TokenGate:
    """ASGI middleware: lets a request through only with the token (Bearer header or login cookie)."""

    def __init__(self, app: Callable[..., Awaitable[None]], token: str) -> None:
        self.app = app
        self.token = token
        self.cookie = cookie_value(token)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Pass the request on, or answer it with the login form."""
        if scope["type"] != "http" or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request

        request = Request(scope, receive)
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = _login_form(request, wanted, failed=False)
        await response(scope, receive, send)

    def _allowed(self, scope: dict[str, Any]) -> bool:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if path in (f"{root}/login", "/login") or path.endswith("/static/dashboard.css"):
            return True
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        bearer = headers.get("authorization", "")
        if bearer.lower().startswith("bearer ") and hmac.compare_digest(bearer[7:].strip().encode(),
                                                                        self.token.encode()):
            return True
        from http.cookies import SimpleCookie

        jar: SimpleCookie = SimpleCookie()
        try:
            jar.load(headers.get("cookie", ""))
        except Exception:  # a malformed cookie header is just no login
            return False
        found = jar.get(COOKIE)
        return found is not None and hmac.compare_digest(found.value.encode(), self.cookie.encode())
