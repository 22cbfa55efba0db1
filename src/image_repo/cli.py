"""`flask --app image_repo users|tokens|images ...`: accounts and upkeep from the shell."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from . import accounts, imaging, ingest, maintenance, progress
from .models import ApiToken, User, db
from .webhooks import cli as webhooks_cli

users = AppGroup("users", help="Users who upload and own images.")
tokens = AppGroup("tokens", help="API tokens (only their hashes are stored).")
images = AppGroup("images", help="The stored images and their files.")


def register(app: Flask) -> None:
    app.cli.add_command(users)
    app.cli.add_command(tokens)
    app.cli.add_command(images)
    app.cli.add_command(webhooks_cli.webhooks)


def _fail(message: str) -> NoReturn:
    raise click.ClickException(message)


@users.command("create")
@click.argument("name")
@click.option("--admin", is_flag=True, help="May delete anyone's images.")
def create_user(name: str, admin: bool) -> None:
    """Create user NAME and print their first API token (shown once)."""
    try:
        user, secret = accounts.create_user(name, admin=admin)
    except accounts.AccountError as error:
        _fail(str(error))
    role = "admin" if admin else "user"
    click.echo(f"Created {role} {user.name!r}. Their token, shown only this once:", err=True)
    click.echo(secret)


@users.command("list")
def list_users() -> None:
    """List users."""
    live_tokens = (
        select(func.count(ApiToken.id))
        .where(ApiToken.user_id == User.id, ApiToken.revoked_at.is_(None))
        .scalar_subquery()
    )
    rows = db.session.execute(select(User, live_tokens).order_by(User.id)).all()
    click.echo(f"{'id':>4}  {'name':<24} {'role':<6} {'tokens':>6}  created (UTC)")
    for user, count in rows:
        role = "admin" if user.is_admin else "user"
        created = f"{user.created_at:%Y-%m-%d %H:%M}"
        click.echo(f"{user.id:>4}  {user.name:<24} {role:<6} {count:>6}  {created}")


@tokens.command("create")
@click.argument("user_name")
@click.option("--name", "token_name", default="cli", show_default=True, help="A label.")
def create_token(user_name: str, token_name: str) -> None:
    """Make another token for USER_NAME and print it (shown once)."""
    user = accounts.find_user(user_name)
    if user is None:
        _fail(f"there is no user named {user_name!r}")
    try:
        token, secret = accounts.create_token(user, token_name)
    except accounts.AccountError as error:
        _fail(str(error))
    click.echo(f"Token {token.id} for {user.name!r}, shown only this once:", err=True)
    click.echo(secret)


@tokens.command("list")
@click.argument("user_name", required=False)
def list_tokens(user_name: str | None) -> None:
    """List tokens (everyone's, or USER_NAME's), without their secrets."""
    query = select(ApiToken).join(ApiToken.user).order_by(ApiToken.id)
    if user_name:
        query = query.where(User.name == user_name.strip().lower())
    click.echo(f"{'id':>4}  {'user':<16} {'name':<16} {'last used (UTC)':<17} state")
    for token in db.session.scalars(query):
        used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
        state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
        click.echo(f"{token.id:>4}  {token.user.name:<16} {token.name:<16} {used:<17} {state}")


@tokens.command("revoke")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke token TOKEN_ID: it stops working at once."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        _fail(f"there is no token with id {token_id}")
    accounts.revoke_token(token)
    click.echo(f"Revoked token {token_id} ({token.name!r} of {token.user.name!r}).")


@images.command("fsck")
@click.option("--repair", is_flag=True, help="Fix what is safe to fix.")
@click.option("--skip-hashes", is_flag=True, help="Do not decode every original to check its hash.")
def fsck(repair: bool, skip_hashes: bool) -> None:
    """Check that every row has its file and every file its row.

    Reports rows without files, files without rows, originals whose pixels do
    not hash to their name, leftover temp files, stores a crash cut short, and
    thumbnails of deleted images. Exits with status 1 when it found anything.
    """
    findings = maintenance.fsck(repair=repair, verify_hashes=not skip_hashes)
    for finding in findings:
        click.echo(str(finding))
    unrepaired = sum(not finding.repaired for finding in findings)
    click.echo(f"{len(findings)} problem(s) found, {len(findings) - unrepaired} repaired.")
    if findings:
        raise SystemExit(1)


@images.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--owner", "owner_name", help="The user who will own what is imported.")
@click.option("--quiet", is_flag=True, help="Only the files refused: no progress, no summary.")
def import_folder(folder: Path, owner_name: str | None, quiet: bool) -> None:
    """Store every image file in FOLDER (and below), as an upload would.

    Shows progress (a bar on a terminal, a line now and then elsewhere), each
    file refused and why, and a summary of what was stored.
    """
    owner = accounts.find_user(owner_name) if owner_name else None
    if owner_name and owner is None:
        _fail(f"there is no user named {owner_name!r}")
    paths = sorted(p for p in folder.rglob("*") if p.is_file())
    outcomes = ("stored", "duplicate", "refused")
    with progress.track(len(paths), "import", unit="files", outcomes=outcomes, quiet=quiet) as bar:
        for path in paths:
            try:
                with path.open("rb") as stream:
                    result = ingest.ingest(stream, path.name, owner=owner)
            except imaging.ImageRejected as error:
                bar.write(f"refused {path}: {error}")
                bar.advance(1, "refused")
                continue
            bar.advance(1, "stored" if result.created else "duplicate")
