"""The generation of each client's status links: revoking bumps it, and every link signed for an
earlier generation stops working (migration 0022_status_links)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.store.tables import Base, UtcDateTime


class StatusLinkRow(Base):
    __tablename__ = "status_links"
    client: Mapped[str] = mapped_column(String(200), primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, nullable=False)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime, nullable=False)
    changed_by: Mapped[str] = mapped_column(String(200), nullable=False, default="")
