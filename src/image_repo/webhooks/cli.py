"""`flask --app image_repo webhooks list`: what was sent where, and how it went."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..models import db
from .models import DELIVERY_STATES, WebhookDelivery

webhooks = AppGroup("webhooks", help="Webhook deliveries (WEBHOOK_URLS).")


@webhooks.command("list")
@click.option("--status", type=click.Choice(DELIVERY_STATES), help="Only these.")
@click.option("--limit", default=50, show_default=True, help="The newest this many.")
def list_deliveries(status: str | None, limit: int) -> None:
    """List deliveries, newest first: event, receiver, state, attempts, last answer."""
    query = select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(limit)
    if status:
        query = query.where(WebhookDelivery.status == status)
    click.echo(
        f"{'id':>6}  {'created (UTC)':<19} {'event':<14} {'status':<9} {'tries':>5}  "
        f"{'last answer':<24} {'request id':<32} url"
    )
    for delivery in db.session.scalars(query):
        # The receiver's status, or why there was none (refused, timed out...).
        answer = str(delivery.last_status_code or delivery.last_error or "-")
        click.echo(
            f"{delivery.id:>6}  {delivery.created_at:%Y-%m-%d %H:%M:%S} "
            f"{delivery.event_type:<14} {delivery.status:<9} {delivery.attempts:>5}  "
            f"{answer[:24]:<24} {(delivery.request_id or '-')[:32]:<32} {delivery.url}"
        )
