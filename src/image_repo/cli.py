"""`flask --app image_repo users|tokens|images ...`: accounts and upkeep from the shell."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, NoReturn

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import func, select

from . import (
    accounts,
    backfill,
    fsck,
    imaging,
    ingest,
    originals,
    perceptual,
    progress,
    similarity,
    thumbnail_rebuild,
)
from .blobstore import NotStored
from .models import ApiToken, User, db, utcnow
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
@click.option(
    "--expires-at",
    metavar="WHEN",
    help="When it stops working: an ISO 8601 date or moment (UTC unless it has an offset).",
)
def create_token(user_name: str, token_name: str, expires_at: str | None) -> None:
    """Make another token for USER_NAME and print it (shown once)."""
    user = accounts.find_user(user_name)
    if user is None:
        _fail(f"there is no user named {user_name!r}")
    try:
        token, secret = accounts.create_token(
            user, token_name, expires_at=_moment(expires_at) if expires_at else None
        )
    except accounts.AccountError as error:
        _fail(str(error))
    click.echo(f"Token {token.id} for {user.name!r}, shown only this once:", err=True)
    click.echo(secret)


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        _fail(f"--expires-at: {text!r} is not an ISO 8601 date or moment")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@tokens.command("list")
@click.argument("user_name", required=False)
def list_tokens(user_name: str | None) -> None:
    """List tokens (everyone's, or USER_NAME's), without their secrets."""
    query = select(ApiToken).join(ApiToken.user).order_by(ApiToken.id)
    if user_name:
        query = query.where(User.name == user_name.strip().lower())
    click.echo(
        f"{'id':>4}  {'user':<16} {'name':<16} {'last used (UTC)':<17} {'expires (UTC)':<17} state"
    )
    now = utcnow()
    for token in db.session.scalars(query):
        used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
        expires = f"{token.expires_at:%Y-%m-%d %H:%M}" if token.expires_at else "never"
        if token.revoked_at:
            state = f"revoked {token.revoked_at:%Y-%m-%d}"
        elif token.expires_at and token.expires_at <= now:
            state = "expired"
        else:
            state = "active"
        name = printable(token.name)
        click.echo(
            f"{token.id:>4}  {token.user.name:<16} {name:<16} {used:<17} {expires:<17} {state}"
        )


def printable(text: str) -> str:
    """`text` with every character a terminal would act on (escape codes,
    bidi marks, line breaks) written as its Python escape instead."""
    return "".join(char if char.isprintable() else ascii(char)[1:-1] for char in text)


@tokens.command("revoke")
@click.argument("token_id", type=int)
def revoke_token(token_id: int) -> None:
    """Revoke token TOKEN_ID: it stops working at once."""
    token = db.session.get(ApiToken, token_id)
    if token is None:
        _fail(f"there is no token with id {token_id}")
    accounts.revoke_token(token)
    click.echo(f"Revoked token {token_id} ({printable(token.name)!r} of {token.user.name!r}).")


@tokens.command("revoke-all")
@click.argument("user_name")
def revoke_all_tokens(user_name: str) -> None:
    """Revoke every token of USER_NAME: they all stop working at once."""
    user = accounts.find_user(user_name)
    if user is None:
        _fail(f"there is no user named {user_name!r}")
    revoked = accounts.revoke_all(user)
    click.echo(f"Revoked {revoked} token(s) of {user.name!r}.")


@images.command("fsck")
@click.option("--repair", is_flag=True, help="Fix what is safe to fix; strays go to lost+found/.")
@click.option("--skip-hashes", is_flag=True, help="Do not decode every original to check its hash.")
@click.option("--quiet", is_flag=True, help="Only the problems: no progress, no summary (cron).")
def fsck_command(repair: bool, skip_hashes: bool, quiet: bool) -> None:
    """Check that every record has its file and every file its record.

    Reports records whose original is missing, damaged (size, pixel hash) or
    whose store or delete was cut short, and files no record refers to; every
    problem names its image ids. With --repair, interrupted stores and deletes
    are finished or undone, stray originals moved into lost+found/ in the
    store (never deleted), stray thumbnails removed. Exits with status 1 when
    a problem remains.
    """
    with progress.track(None, "fsck", unit="checks", quiet=quiet) as bar:
        report = fsck.fsck(repair=repair, verify_hashes=not skip_hashes, advance=bar.advance)
    for finding in report.findings:
        click.echo(str(finding))
    if quiet and not report.unrepaired:
        return
    problems = len(report.findings)
    summary = (
        f"Checked {report.pictures} pictures ({report.images} images) and "
        f"{report.objects} stored files: "
        + (
            f"{problems} problem(s), {problems - report.unrepaired} repaired."
            if problems
            else "no problems."
        )
    )
    if report.in_progress:
        summary += f" {report.in_progress} store(s) or delete(s) in progress were left alone."
    click.echo(summary)
    if report.quarantined:
        click.echo(f"Quarantined files can be restored with: {fsck.restore_hint(report)}")
    if report.unrepaired:
        raise SystemExit(1)


@images.command("restore")
@click.argument("key")
@click.option("--owner", "owner_name", help="The user who will own the restored image.")
def restore(key: str, owner_name: str | None) -> None:
    """Bring a quarantined original (KEY, under lost+found/) back as an upload."""
    owner = _owner(owner_name)
    try:
        result = fsck.restore(key, owner=owner)
    except (ValueError, NotStored) as error:
        _fail(f"cannot restore {key}: {error}")
    except imaging.ImageRejected as error:
        _fail(f"cannot restore {key}: not an image this repository accepts ({error})")
    click.echo(f"restored   {key} -> /image/{result.image.id}")


@images.command("rebuild-thumbnails")
@click.option(
    "--quiet", is_flag=True, help="Only the pictures that failed: no progress, no summary."
)
def rebuild_thumbnails(quiet: bool) -> None:
    """Make every stored thumbnail again, the way thumbnails are made now.

    Each picture's default thumbnail is remade from its original; other sizes
    and formats are removed and made again when first asked for. Originals are
    not touched. Exits with status 1 when some could not be rebuilt.
    """
    _over_originals(
        "rebuild-thumbnails",
        originals.stored_pictures(),
        thumbnail_rebuild.rebuild,
        "rebuilt",
        quiet,
    )


@images.command("backfill")
@click.option(
    "--quiet", is_flag=True, help="Only the pictures that failed: no progress, no summary."
)
def backfill_command(quiet: bool) -> None:
    """Compute what pictures stored by earlier versions lack: the file's
    checksum and the perceptual hash near-duplicate search needs.

    Reads each such original once; safe to run beside the servers and to run
    again. Exits with status 1 when some could not be read.
    """
    _over_originals("backfill", backfill.lacking(), backfill.fill, "filled", quiet)


def _over_originals(
    label: str,
    pictures: list[originals.StoredPicture],
    work: Callable[[originals.StoredPicture, BinaryIO], None],
    outcome: str,
    quiet: bool,
) -> None:
    """Run `work` over these pictures' originals with progress; exit 1 when some failed."""
    with progress.track(
        len(pictures), label, unit="pictures", outcomes=(outcome, "failed"), quiet=quiet
    ) as bar:
        failures = originals.process(pictures, bar, work, outcome)
    if failures:
        raise SystemExit(1)


@images.command("similar")
@click.option(
    "--max-distance",
    type=click.IntRange(0, similarity.LARGEST_DISTANCE),
    default=perceptual.MAX_DISTANCE,
    show_default=True,
    help="Bits two perceptual hashes may differ in.",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def similar(max_distance: int, quiet: bool) -> None:
    """List groups of near-duplicates: edited copies of one picture (re-saved,
    resized, cropped a little, recoloured), largest group first.

    Each line is one record: its image id, its distance in bits to the
    group's oldest picture, its owner and name. Nothing is changed: delete
    what you do not want with DELETE /image/<id>.
    """
    hashed = similarity.hashed_pictures()
    with progress.track(len(hashed), "similar", unit="pictures", quiet=quiet) as bar:
        found = similarity.groups(hashed, max_distance, lambda: bar.advance(1))
    for number, group in enumerate(found, 1):
        click.echo(f"group {number}: {len(group.members)} pictures")
        for picture_id, distance in group.members:
            for record in group.records[picture_id]:
                owner = printable(record.owner_name or "(anonymous)")
                name = printable(record.original_name or "")
                size = f"{record.width}x{record.height}"
                click.echo(
                    f"  image {record.id:>8}  {distance:>2} bits  {record.format:<5} "
                    f"{size:>11}  {owner:<16} {name}"
                )
    pictures = sum(len(group.members) for group in found)
    click.echo(
        f"{len(found)} group(s) of near-duplicates, {pictures} pictures, among "
        f"{len(hashed)} pictures (within {max_distance} bits)."
    )


@images.command("import")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--owner", "owner_name", help="The user who will own what is imported.")
@click.option("--quiet", is_flag=True, help="Only the files refused: no progress, no summary.")
def import_folder(folder: Path, owner_name: str | None, quiet: bool) -> None:
    """Store every image file in FOLDER (and below), as an upload would.

    Shows progress (a bar on a terminal, a line now and then elsewhere), each
    file refused and why, and a summary of what was stored.
    """
    owner = _owner(owner_name)
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


def _owner(owner_name: str | None) -> User | None:
    owner = accounts.find_user(owner_name) if owner_name else None
    if owner_name and owner is None:
        _fail(f"there is no user named {owner_name!r}")
    return owner
