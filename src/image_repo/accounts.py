"""Users and their API tokens.

A token is `irt_` plus 32 random bytes (URL-safe base64). Only its SHA-256 is
stored: a leaked database does not leak working tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from sqlalchemy import select

from .models import ApiToken, User, db, utcnow

TOKEN_PREFIX = "irt_"  # noqa: S105 - a public prefix, not a secret
MAX_TOKEN_LENGTH = 128
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# `last_used_at` moves at most once a minute: not a database write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class AccountError(ValueError):
    """A request about users or tokens that cannot be done; the message says why."""


def create_user(name: str, *, admin: bool = False) -> tuple[User, str]:
    """A new user and their first token (returned in clear, once)."""
    name = name.strip().lower()
    if not NAME_PATTERN.fullmatch(name):
        raise AccountError(
            "a user name is 1 to 64 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    if find_user(name) is not None:
        raise AccountError(f"there is already a user named {name!r}")
    user = User(name=name, is_admin=admin)
    db.session.add(user)
    _, secret = create_token(user, "default")
    return user, secret


def find_user(name: str) -> User | None:
    return db.session.scalar(select(User).where(User.name == name.strip().lower()))


def create_token(user: User, name: str) -> tuple[ApiToken, str]:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise AccountError("a token name is 1 to 100 characters")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, token_sha256=_digest(secret))
    db.session.add(token)
    db.session.commit()
    return token, secret


def revoke_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()


def authenticate(secret: str) -> User | None:
    """The user a token belongs to; None for an unknown, revoked or malformed one.

    The lookup is by SHA-256 of the secret, so the database never compares the
    secret itself; the final comparison is constant-time all the same.
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > MAX_TOKEN_LENGTH:
        return None
    digest = _digest(secret)
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))
    if token is None or not hmac.compare_digest(token.token_sha256, digest):
        return None
    if token.revoked_at is not None:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now
        db.session.commit()
    return token.user


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
