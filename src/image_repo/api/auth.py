"""Who is asking, and may they? Bearer tokens (Flask-HTTPAuth via APIFlask).

Routes take `@bp.auth_required(auth, optional=True)` so that the spec shows
the token, then one of the policies below says when it is required.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import NoReturn

from apiflask import HTTPError, HTTPTokenAuth, abort
from flask import current_app, g, request

from .. import accounts
from ..models import ApiToken, User
from ..observability import request_id

REALM = "image-repo"
NEEDS_TOKEN = "This request needs an API token: send `Authorization: Bearer <token>`."  # noqa: S105

auth = HTTPTokenAuth(
    scheme="Bearer",
    description="An API token. `flask --app image_repo users create NAME` prints one.",
)


@auth.verify_token
def verify_token(secret: str) -> User | None:
    token = accounts.authenticate(secret)
    g.api_token = token
    request_id.note_user(token.user.name if token else None)  # for the request's log lines
    return token.user if token else None


@auth.error_processor
def auth_error(error: HTTPError) -> NoReturn:
    """Flask-HTTPAuth calls this when a required token is missing or wrong."""
    _refuse_bad_credentials()
    _needs_token()


def _refuse_bad_credentials() -> None:
    """Credentials that were sent but do not hold (unknown, revoked, malformed
    header) are refused even where a token is optional, with one answer that
    does not say which part was wrong."""
    if "Authorization" in request.headers and auth.current_user is None:
        abort(
            401,
            "The API token is not valid.",
            headers={"WWW-Authenticate": f'Bearer realm="{REALM}", error="invalid_token"'},
        )


def _needs_token() -> NoReturn:
    abort(401, NEEDS_TOKEN, headers={"WWW-Authenticate": f'Bearer realm="{REALM}"'})


def current_user() -> User | None:
    return auth.current_user


def current_token() -> ApiToken | None:
    """The token this request came with, once it has been checked."""
    return g.get("api_token")


def _required_unless(setting: str) -> Callable:
    """A policy for routes under `auth_required(auth, optional=True)`: a valid
    token, or none at all when `setting` is on."""

    def policy(view: Callable) -> Callable:
        @wraps(view)
        def check(*args, **kwargs):
            _refuse_bad_credentials()
            if current_user() is None and not current_app.config[setting]:
                _needs_token()
            return view(*args, **kwargs)

        return check

    return policy


# Reads (download, details, lists...): open when PUBLIC_READ is on.
public_read = _required_unless("PUBLIC_READ")
# Writes (upload, delete, generate): open only when ALLOW_ANONYMOUS_UPLOAD is on.
writer = _required_unless("ALLOW_ANONYMOUS_UPLOAD")
