"""The record of each webhook delivery: one row per event and receiver."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..models import UTCDateTime, db, utcnow

DELIVERY_STATES = ("pending", "delivered", "failed")


class WebhookDelivery(db.Model):
    """One event on its way to one receiver: pending while attempts go on,
    then delivered, or failed once the retries ran out."""

    __tablename__ = "webhook_deliveries"
    __table_args__: ClassVar = (
        Index("ix_webhook_deliveries_status_id", "status", "id"),
        {"mysql_charset": "utf8mb4"},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The `webhook-id` header: the same for every receiver and every attempt.
    webhook_id: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2000))
    payload: Mapped[str] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(default=0)
    # The last attempt: the receiver's HTTP status, or why there was none.
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
