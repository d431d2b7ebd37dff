"""The generation of each client's status links: revoking bumps it, and every link signed for an
earlier generation stops working (migration 0022_status_links); and the addresses that get a
client's updates by email (0025_status_subscriptions)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.store.tables import Base, UtcDateTime


class StatusLinkRow(Base):
    __tablename__ = "status_links"
    client: Mapped[str] = mapped_column(String(200), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    changed_by: Mapped[str] = mapped_column(String(200), nullable=False, default="")


class StatusSubscriptionRow(Base):
    """An address that asked for a client's updates by email on its status page (migration
    0025_status_subscriptions): `pending` until the address follows the confirmation link it was
    sent, then `confirmed`, `unsubscribed` once it asks to stop. One row per client and address,
    so subscribing twice never doubles. `generation` is the status link's it was made through: a
    revoke ends the subscriptions made through earlier links."""

    __tablename__ = "status_subscriptions"
    __table_args__ = (UniqueConstraint("client", "address", name="uq_status_subscriptions_client_address"),
                      Index("ix_status_subscriptions_client_state", "client", "state"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(200), nullable=False)
    address: Mapped[str] = mapped_column(String(254), nullable=False)  # lower case
    state: Mapped[str] = mapped_column(String(20), nullable=False)
    generation: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    confirmations_sent: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_confirmation_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
