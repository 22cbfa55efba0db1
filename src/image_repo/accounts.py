"""Users and their API tokens.

A token is `irt_` plus 32 random bytes (URL-safe base64). Only its SHA-256 is
stored: a leaked database does not leak working tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, or_, select, update

from .models import MAX_INTEGER, ApiToken, User, db, utcnow
from .permissions import may_change

TOKEN_PREFIX = "irt_"  # noqa: S105 - a public prefix, not a secret
MAX_TOKEN_LENGTH = 128
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
# `last_used_at` moves at most once a minute: not a database write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# Unicode categories a token name may not hold: controls (escape codes, NUL,
# bell), format characters (bidi overrides), surrogates, private use, and the
# line and paragraph separators.
FORBIDDEN_IN_NAMES = {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}


class AccountError(ValueError):
    """A request about users or tokens that cannot be done; the message says why."""


class TooManyTokens(AccountError):
    """The user already holds MAX_TOKENS_PER_USER live tokens."""


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


def create_token(
    user: User, name: str, *, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for `user` (its secret returned in clear, once).

    Refused past MAX_TOKENS_PER_USER live tokens: a stolen token cannot mint an
    endless supply of others to outlive its own revocation.
    """
    name = _token_name(name)
    if expires_at is not None and expires_at <= utcnow():
        raise AccountError("the expiry (expires_at) must be a moment to come")
    if user.id is not None:  # MySQL: one user's token creations take turns here
        db.session.execute(select(User.id).where(User.id == user.id).with_for_update())
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(user=user, name=name, token_sha256=_digest(secret), expires_at=expires_at)
    db.session.add(token)
    db.session.flush()  # SQLite: holds the write lock from here, so the count is exact
    limit = current_app.config["MAX_TOKENS_PER_USER"]
    if live_token_count(user) > limit:
        db.session.rollback()
        raise TooManyTokens(
            f"{user.name} may hold at most {limit} live tokens (MAX_TOKENS_PER_USER); "
            "revoke some first"
        )
    db.session.commit()
    return token, secret


def live_token_count(user: User) -> int:
    return db.session.scalar(
        select(func.count(ApiToken.id)).where(ApiToken.user_id == user.id, _live(utcnow()))
    )


def _live(now: datetime):
    return ApiToken.revoked_at.is_(None) & or_(
        ApiToken.expires_at.is_(None), ApiToken.expires_at > now
    )


def _token_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise AccountError("a token name is 1 to 100 characters")
    if any(unicodedata.category(char) in FORBIDDEN_IN_NAMES for char in name):
        raise AccountError(
            "a token name cannot hold control or format characters (escape codes, "
            "line breaks, bidi marks)"
        )
    return name


class TokenNotFound(LookupError):
    """No such token among the caller's (others' tokens are not shown to exist)."""

    def __init__(self, token_id: int) -> None:
        super().__init__(f"You have no token with id {token_id}.")


def tokens_of(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
        )
    )


def revoke_token_of(user: User, token_id: int) -> None:
    """Revoke one of `user`'s tokens (an admin: anyone's); raises TokenNotFound."""
    token = db.session.get(ApiToken, token_id) if token_id <= MAX_INTEGER else None
    if token is None or not may_change(user, token.user_id):
        raise TokenNotFound(token_id)
    revoke_token(token)


def revoke_token(token: ApiToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        db.session.commit()


def revoke_all(user: User, *, keep: ApiToken | None = None) -> int:
    """Revoke every live token of `user` but `keep`; how many were revoked."""
    query = update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    if keep is not None:
        query = query.where(ApiToken.id != keep.id)
    revoked = db.session.execute(query.values(revoked_at=utcnow())).rowcount
    db.session.commit()
    return revoked


def authenticate(secret: str) -> ApiToken | None:
    """The live token `secret` is; None for an unknown, revoked, expired or
    malformed one.

    The lookup is by SHA-256 of the secret, so the database never compares the
    secret itself; the final comparison is constant-time all the same. The use
    is noted for `last_used_at` on the side (see token_use): never a write here.
    """
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > MAX_TOKEN_LENGTH:
        return None
    digest = _digest(secret)
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_sha256 == digest))
    if token is None or not hmac.compare_digest(token.token_sha256, digest):
        return None
    now = utcnow()
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        current_app.extensions["image_repo.token_use"].note(token.id, now)
    return token


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
