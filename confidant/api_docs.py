"""The API's interactive OpenAPI page (/docs), served only when `api_docs` is set, entirely from this server.

FastAPI's own page loads Swagger UI from a CDN and its favicon from the internet. This one serves Swagger UI's files
from the swagger-ui-bundle-v2 package at /docs/assets/…, turns off the online validator badge (an image from
validator.swagger.io), and sends a Content-Security-Policy that lets the page load nothing from any other host.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache

from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response

ASSETS = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css; charset=utf-8",
          "favicon-32x32.png": "image/png"}
PREFIX = "/docs/assets/"
# Everything comes from this origin but the page's one inline script, allowed by its hash (icons are data: URIs;
# Swagger UI sets style attributes, hence 'unsafe-inline' for styles only).
POLICY = ("default-src 'none'; script-src 'self' {script}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "font-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_INLINE = re.compile(r"<script>(.*?)</script>", re.S)


def policy(page: str) -> str:
    """The Content-Security-Policy for this page: its inline scripts by hash, everything else from this origin."""
    hashes = [base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() for code in _INLINE.findall(page)]
    return POLICY.format(script=" ".join(f"'sha256-{h}'" for h in hashes))


@cache
def asset(name: str) -> bytes:
    from swagger_ui_bundle import swagger_ui_path

    data: bytes = (swagger_ui_path / name).read_bytes()
    return data


def add_docs(api: FastAPI) -> None:
    """Serve /docs and its assets from this server."""
    openapi_url = api.openapi_url or "/openapi.json"

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url, title=f"{api.title} — docs", swagger_js_url=PREFIX + "swagger-ui-bundle.js",
            swagger_css_url=PREFIX + "swagger-ui.css", swagger_favicon_url=PREFIX + "favicon-32x32.png",
            oauth2_redirect_url=None, swagger_ui_parameters={"validatorUrl": None})
        page.headers["Content-Security-Policy"] = policy(bytes(page.body).decode())
        return page

    @api.get(PREFIX + "{name}", include_in_schema=False)
    def docs_asset(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(404, "Not Found")
        return Response(asset(name), media_type=ASSETS[name], headers={"Cache-Control": "max-age=86400",
                                                                        "X-Content-Type-Options": "nosniff"})
