"""Objections (异议) and complaints, each answered by the credit office within its time limit.

A photo's file goes with its row: whatever deletes rows of `objection_photos` through the session
(the ORM's delete of a photo, of an objection whose photos the database's ON DELETE CASCADE takes,
or a DELETE statement on either table) has the files of those rows removed once, and only once,
the transaction commits. A rollback (of the transaction, or of the savepoint the DELETE ran in)
keeps them, with their rows. SQL the session does not build (psql, a hand-written DELETE on a raw
connection) is not seen: its writer removes the files itself (`photos.remove`).
"""
from __future__ import annotations

import logging

from flask import current_app, has_app_context
from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, event, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..dbtypes import BigId, UTCDateTime, utcnow
from ..extensions import db
from . import photos

log = logging.getLogger(__name__)

OBJECTION_KINDS = ("credit", "redemption", "complaint")
# 已提交 → 已受理 → 处理中 → 已办结 (issue 16 item 7); each change is audited and texted to the citizen.
OBJECTION_STATUSES = ("submitted", "accepted", "in_progress", "closed")
STATUS_NAMES = {"submitted": "已提交", "accepted": "已受理", "in_progress": "处理中", "closed": "已办结"}


class Objection(db.Model):
    __tablename__ = "objections"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("citizen_accounts.id"), index=True)
    # The holder it concerns (the citizen's own or a represented company's), when known.
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("credit_subjects.id"))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id"))
    # The partner a complaint is about (or whose redemption is disputed): its back-office lists it.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[object] = mapped_column(UTCDateTime)
    # The count due_at was set with (OBJECTION_DUE_WORKING_DAYS at filing): a calendar change counts it
    # again on the new days, whatever the setting says by then. None before migration 0024.
    due_working_days: Mapped[int | None] = mapped_column(Integer)
    accepted_at: Mapped[object | None] = mapped_column(UTCDateTime)
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("office_users.id"))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[object | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        CheckConstraint("kind in ('credit', 'redemption', 'complaint')", name="kind"),
        CheckConstraint("status in ('submitted', 'accepted', 'in_progress', 'closed')", name="status"),
    )


class ObjectionPhoto(db.Model):
    """A photo attached to an objection. The bytes live in a file (OBJECTION_PHOTO_DIR) under a
    random name; the row only says which file, so the table stays small and a backup of the
    database holds no pictures."""

    __tablename__ = "objection_photos"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    objection_id: Mapped[int] = mapped_column(ForeignKey("objections.id", ondelete="CASCADE"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


# -- a photo's file goes with its row, after the commit ----------------------------------------------
# Removed after the commit, never before: a file removed with its DELETE would be lost for good if
# the transaction then rolled back and the row came back. Kept in session.info per transaction
# (the root one or a savepoint), as (folder, stored name) pairs.
_DOOMED = "objection_photo_files"


def _doom(session: Session, names) -> None:
    names = sorted(set(names))
    if not names:
        return
    if not has_app_context():  # a session outside the app (a script's): no folder to look in
        log.warning("objection photos %s deleted outside the app: their files stay", names)
        return
    session.connection()  # begins the transaction if none has begun: the files belong to it
    transaction = session.get_nested_transaction() or session.get_transaction()
    folder = current_app.config["OBJECTION_PHOTO_DIR"]
    session.info.setdefault(_DOOMED, {}).setdefault(transaction, []).extend((folder, name) for name in names)


def _names_where(session: Session, query, parameters) -> list[str]:
    batches = parameters if isinstance(parameters, list) else [parameters or {}]
    return [name for batch in batches for name in session.scalars(query, batch or None)]


@event.listens_for(Session, "before_flush")
def _note_deleted_instances(session, _flush_context, _instances):
    """The ORM deletes photos, or objections whose photos the database then deletes (ON DELETE CASCADE):
    their names are read now, while the rows are still there."""
    names = [obj.stored_name for obj in session.deleted if isinstance(obj, ObjectionPhoto)]
    objection_ids = [obj.id for obj in session.deleted if isinstance(obj, Objection)]
    if objection_ids:
        names += session.scalars(select(ObjectionPhoto.stored_name)
                                 .where(ObjectionPhoto.objection_id.in_(objection_ids)))
    _doom(session, names)


@event.listens_for(Session, "do_orm_execute")
def _note_deleting_statements(state):
    """A DELETE statement on objection_photos or objections: the names of the photo rows it deletes
    are read first, and noted only once the statement has run without error."""
    if not state.is_delete:
        return None
    photo_table, objection_table = ObjectionPhoto.__table__, Objection.__table__
    table = getattr(getattr(state.statement, "table", None), "name", None)
    criteria = state.statement.whereclause
    if table == photo_table.name:
        query = select(photo_table.c.stored_name)
        if criteria is not None:
            query = query.where(criteria)
    elif table == objection_table.name:
        deleted = select(objection_table.c.id)
        if criteria is not None:
            deleted = deleted.where(criteria)
        query = select(photo_table.c.stored_name).where(photo_table.c.objection_id.in_(deleted))
    else:
        return None
    names = _names_where(state.session, query, state.parameters)
    result = state.invoke_statement()
    _doom(state.session, names)
    return result


@event.listens_for(Session, "after_commit")
def _remove_files_after_commit(session):
    doomed = session.info.get(_DOOMED)
    if not doomed:
        return
    released = session.get_nested_transaction()
    if released is not None:  # a savepoint released: its files go if the transaction around it commits
        doomed.setdefault(released.parent, []).extend(doomed.pop(released, []))
        return
    session.info.pop(_DOOMED)
    for folder, name in (pair for pairs in doomed.values() for pair in pairs):
        try:
            photos.remove([name], folder=folder)
        except OSError as error:  # the commit stands: a file left behind is logged, never raised
            log.warning("objection photo file %s in %s not removed: %s", name, folder, error)


@event.listens_for(Session, "after_transaction_end")
def _keep_files_of_what_did_not_commit(session, transaction):
    """A transaction or savepoint that ends without committing (rolled back, closed) took its DELETEs
    with it: its rows are back, so its files stay. (A commit has handed them on before it ends.)"""
    doomed = session.info.get(_DOOMED)
    if doomed:
        doomed.pop(transaction, None)
