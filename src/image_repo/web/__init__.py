"""Pages for people: the gallery at `/`, a page per image, and `/docs`.

The pages are shells: their scripts (static/) talk to the JSON API like any
other client, with the API token the person pasted (kept in the browser's
local storage, sent as `Authorization: Bearer`; no cookies). Nothing is
fetched from another host: Swagger UI's files come from a pinned package.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from .. import thumbnails
from ..generation.backends import ASPECT_RATIOS

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)

# Every page and file of this blueprint: scripts, styles and fetches from this
# server only (blob: for pictures fetched with a token, data: for Swagger UI's icons).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
# The files of Swagger UI (swagger-ui-dist, Apache-2.0) that /docs loads.
SWAGGER_UI_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@bp.get("/")
def gallery() -> str:
    return render_template(
        "web/gallery.html",
        aspect_ratios=ASPECT_RATIOS,
        formats=current_app.config["ALLOWED_FORMATS"],
    )


@bp.get("/view/<int:image_id>")
def image_page(image_id: int) -> str:
    return render_template("web/image.html", image_id=image_id)


@bp.get("/docs")
def docs() -> str:
    return render_template("web/docs.html")


@bp.get("/docs/assets/<name>")
def docs_asset(name: str) -> Response:
    if name not in SWAGGER_UI_FILES:
        abort(404)
    return send_from_directory(str(swagger_ui_path), name, max_age=3600)


@bp.context_processor
def _page_settings() -> dict:
    """What every page's scripts need to know about this server."""
    config = current_app.config
    return {
        "page_settings": {
            "publicRead": config["PUBLIC_READ"],
            "anonymousUpload": config["ALLOW_ANONYMOUS_UPLOAD"],
            "thumbnailSizes": list(thumbnails.SIZES),
        }
    }
