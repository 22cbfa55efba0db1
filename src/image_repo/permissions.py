"""Who may change or see what is someone's: its owner, or an admin.

One rule for images, generation jobs and tokens. Anonymous callers (where
the configuration lets them in) act on ownerless things only.
"""

from __future__ import annotations

from .models import User


class NotPermitted(Exception):
    """The caller may not do this; `needs_token` when a token might change that."""

    def __init__(self, message: str, *, needs_token: bool = False) -> None:
        super().__init__(message)
        self.needs_token = needs_token


def may_change(user: User | None, owner_id: int | None) -> bool:
    if user is None:
        return owner_id is None
    return user.is_admin or owner_id == user.id


def ensure_may_change(user: User | None, owner_id: int | None, what: str, action: str) -> None:
    """Raises NotPermitted: "Only the {what}'s owner or an admin may {action}"."""
    if not may_change(user, owner_id):
        raise NotPermitted(
            f"Only the {what}'s owner or an admin may {action}.", needs_token=user is None
        )
