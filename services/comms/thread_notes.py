"""Thread notes that pile up behind Teams' per-conversation limits go out together.

Every change made from a card says in the incident's thread who did what (a one-line note). Teams
takes about one post a second in a thread, and 1,800 an hour; twenty responders adding notes to a
busy incident queue faster than that, and replayed one by one the thread would fall minutes, then
hours, behind the incident. So when a note's turn comes, the notes queued behind it (up to
MOST_NOTES, and LONGEST bytes in all) join its reply, one line each, in the order they were
made; their rows are marked skipped in the same transaction that rewrites the reply's text, so a
failed post is retried with all of them and none is sent twice.

The reply is measured as cards are (services/wire.py): on the wire, where a character outside
ASCII may take six bytes (`\\uXXXX`), so notes in any script stay under the size Teams accepts.
"""

from __future__ import annotations

from datetime import datetime

from services.effects import ordering
from services.effects.teams import ThreadNote
from services.outbox import Effect
from services.store.uow import UnitOfWork
from services.wire import wire_size

MOST_NOTES = 50
# Bytes of the reply's text on the wire: well under the 28 KB a bot message may take.
LONGEST = 16 * 1024
JOINED = "posted in one reply with the thread note before it, while Teams' limits held the thread's posts back"


def _size(text: str) -> int:
    """Bytes of `text` in the activity's JSON, without its quotes."""
    return wire_size(text) - 2


async def notes_together(uow: UnitOfWork, effect: Effect, now: datetime) -> str:
    """The text of thread note `effect` with the notes queued behind it, which are marked sent
    with it (the caller commits, then posts the text)."""
    incident_id = int(effect.payload["incident_id"])
    text = str(effect.payload["text"])
    behind = await uow.outbox.waiting_behind(effect.id, ThreadNote, ordering.incident_teams(incident_id),
                                             most=MOST_NOTES)
    joined, size = [], _size(text)
    for row in behind:
        line = str(row.payload.get("text", ""))
        size += _size("\n" + line)
        if size > LONGEST:
            break
        text += "\n" + line
        joined.append(row.id)
    if joined:
        await uow.outbox.skip(joined, now=now, why=JOINED)
        await uow.outbox.set_payload(effect.id, {**effect.payload, "text": text})
    return text
