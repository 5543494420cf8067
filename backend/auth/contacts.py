"""When the server kept hearing from each scanner: the record that bounds offline scans.

A scanner is an enrolled device, or a member of a merchant's staff (on whatever phone they sign in).
Every authenticated request of one is an online contact. `note_contact` keeps the contacts as
*spells* (`contact_spells`): a contact within ALLOWANCE of the scanner's last recorded one extends
its current spell, a later one opens a new spell. So inside a spell the scanner was never silent for
longer than ALLOWANCE. A scan it says it made offline must fall in a silence between spells, and not
before the scanner existed: `could_have_been_offline` (docs/security.md, "Offline backdating").

Cost: a request pays a dictionary look-up. The database is written at most once a minute per
scanner and worker (NOTE_EVERY_SECONDS): one UPDATE on an autocommit connection (an INSERT more
when a spell opens, an UPDATE more for a device's `last_seen_at`). A recorded spell therefore ends
up to a minute before the last real contact: it claims less contact than there was, never more.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, exists, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..dbtypes import utcnow
from ..extensions import autocommit, read_outside_transaction
from .models import ContactSpell, Device, DeviceEnrolment, RefreshToken

log = logging.getLogger(__name__)

# Longer than the scanner's longest wait between two tries of one queued scan (5 min, its backoff's
# cap in merchant_scanner/src/queue.js), so that a scan queued during a short drop of the network
# and sent as soon as the network is back is never refused; short enough that a scanner talking to
# us all day cannot place a scan anywhere in that day.
ALLOWANCE = timedelta(minutes=5)
NOTE_EVERY_SECONDS = 60
SCANNERS = ("device", "staff")  # the principal kinds that redeem
_NOTES_MAX = 50_000  # scanners one worker remembers writing for; forgetting only costs a write


def note_contact(principal) -> None:
    """Record that this scanner is online now, at most once a minute per worker; nothing for a
    citizen or the office. A failed write is logged and forgotten: the request goes on."""
    if principal.kind not in SCANNERS:
        return
    notes = current_app.extensions.setdefault("contact_notes", {})
    clock = time.monotonic()
    scanner = (principal.kind, principal.id)
    last = notes.get(scanner)
    if last is not None and clock - last < NOTE_EVERY_SECONDS:
        return
    if len(notes) >= _NOTES_MAX:
        notes.clear()
    notes[scanner] = clock
    try:
        record_contact(**_scanner(principal.kind, principal.id), at=utcnow())
    except SQLAlchemyError:
        log.warning("the contact of %s was not recorded", principal.actor, exc_info=True)


def record_contact(*, device_id: int | None = None, staff_id: int | None = None, at: datetime) -> None:
    """Extend the scanner's current spell to `at`, or open a new one after a longer silence."""
    with autocommit.engine.connect() as connection:
        extended = connection.execute(
            update(ContactSpell).where(_of(device_id, staff_id), ContactSpell.ended_at >= at - ALLOWANCE)
            .values(ended_at=case((ContactSpell.ended_at < at, at), else_=ContactSpell.ended_at))
        ).rowcount
        if not extended:
            connection.execute(insert(ContactSpell).values(device_id=device_id, staff_id=staff_id, started_at=at,
                                                           ended_at=at))
        if device_id is not None:
            connection.execute(update(Device).where(Device.id == device_id).values(last_seen_at=at))


def could_have_been_offline(*, device_id: int | None, staff_id: int | None, at: datetime, now: datetime) -> bool:
    """False when a scan made at `at` cannot have been made offline by this scanner: the server was
    hearing from it from ALLOWANCE before `at` to ALLOWANCE after, or it signed in for the first
    time (a device: its enrolment) more than ALLOWANCE after `at`. A scan younger than ALLOWANCE,
    or of no known scanner, always could (nothing is read)."""
    if now - at <= ALLOWANCE or (device_id is None and staff_id is None):
        return True
    covered = exists().where(_of(device_id, staff_id), ContactSpell.started_at <= at - ALLOWANCE,
                             ContactSpell.ended_at >= at + ALLOWANCE)
    if device_id is not None:
        began = select(func.min(DeviceEnrolment.used_at)).where(DeviceEnrolment.device_id == device_id)
    else:  # the first refresh token of any of the staff member's sessions: their first sign-in
        began = select(func.min(RefreshToken.issued_at)).where(RefreshToken.principal_kind == "staff",
                                                               RefreshToken.principal_id == staff_id)
    (row,) = read_outside_transaction(select(covered.label("covered"), began.scalar_subquery().label("began")))
    return not row.covered and (row.began is None or at >= row.began - ALLOWANCE)


def _scanner(kind: str, principal_id: int) -> dict:
    return {"device_id": principal_id} if kind == "device" else {"staff_id": principal_id}


def _of(device_id: int | None, staff_id: int | None):
    return ContactSpell.device_id == device_id if device_id is not None else ContactSpell.staff_id == staff_id
