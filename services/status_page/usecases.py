"""The status page's use cases, each one unit of work: read what a client's (or the public) page
shows, and hand out or revoke a client's link."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.deps import Deps
from services.incidents import Incident, TimelineEvent

DAYS = 30  # how far back a page shows ended incidents
Shown = list[tuple[Incident, list[TimelineEvent]]]


class LinkRefused(Exception):
    """The link's generation is not the client's current one (revoked), or it was never issued."""


async def client_page(deps: Deps, client: str, generation: int, now: datetime) -> Shown:
    """The client's current and recent incidents, for a link signed for `generation`."""
    async with deps.uow() as uow:
        if await uow.status_pages.generation(client) != generation:
            raise LinkRefused(client)
        return await uow.status_pages.incidents(client, now - timedelta(days=DAYS))


async def public_page(deps: Deps, now: datetime) -> Shown:
    async with deps.uow() as uow:
        return await uow.status_pages.incidents(None, now - timedelta(days=DAYS))


async def share_link(deps: Deps, client: str, by: str, now: datetime, *, revoke: bool) -> int:
    """The generation to sign the client's link with; with `revoke`, a new one (every link handed
    out before stops working)."""
    async with deps.uow() as uow:
        pages = uow.status_pages
        generation = await (pages.revoke if revoke else pages.current)(client, now, by)
        await uow.commit()
        return generation
