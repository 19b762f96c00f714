"""The API's documentation pages, served whole from the package: no CDN, so they render offline.

- ``/schema`` and ``/schema/scalar``: Scalar; ``/schema/swagger``: Swagger UI;
- ``/schema/openapi.json`` and ``/schema/openapi.yaml``: the OpenAPI document;
- ``/schema/assets/…``: the scripts and styles those pages load (README.md here says which
  packages and versions they are, and their licences).

Litestar's render plugins load these from jsDelivr unless told otherwise, favicon included;
Scalar also fetches web fonts unless ``withDefaultFonts`` is off.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import (
    OpenAPIRenderPlugin,
    ScalarRenderPlugin,
    SwaggerRenderPlugin,
    YamlRenderPlugin,
)
from litestar.static_files import create_static_files_router

ASSETS_PATH = "/schema/assets"
ASSETS_DIR = Path(__file__).resolve().parent / "static"
_NO_FAVICON = "<link rel='icon' href='data:,'>"  # else the browser asks the CDN, or for /favicon.ico


def render_plugins() -> list[OpenAPIRenderPlugin]:
    """Scalar (also at /schema), Swagger UI and the YAML document, all from local files."""
    return [
        ScalarRenderPlugin(
            js_url=f"{ASSETS_PATH}/scalar/standalone.js",
            css_url=f"{ASSETS_PATH}/scalar/theme.css",
            # No web fonts, and none of the buttons that lead to Scalar's hosted services
            # (its developer toolbar, "Ask AI"), which an offline or self-hosted API cannot use.
            options={"withDefaultFonts": False, "showDeveloperTools": "never", "agent": {"disabled": True}},
            favicon=_NO_FAVICON,
        ),
        SwaggerRenderPlugin(
            js_url=f"{ASSETS_PATH}/swagger-ui/swagger-ui-bundle.js",
            css_url=f"{ASSETS_PATH}/swagger-ui/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui/swagger-ui-standalone-preset.js",
            path="/swagger",
            favicon=_NO_FAVICON,
        ),
        YamlRenderPlugin(path="/openapi.yaml"),
    ]


def assets_router() -> Router:
    """Serves the files under ``ASSETS_PATH``; a day's caching (they change only with a release)."""
    return create_static_files_router(
        path=ASSETS_PATH,
        directories=[ASSETS_DIR],
        name="docs_assets",
        cache_control=CacheControlHeader(max_age=int(timedelta(days=1).total_seconds()), public=True),
    )
