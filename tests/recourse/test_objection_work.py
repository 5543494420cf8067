"""Objections as the office works them: photos (type, size, count, who may see them), the due date
in working days on the city's calendar, an SMS at every change of status, the merchant's view of
complaints about it, and the audit trail of each step."""
from __future__ import annotations

import io
import re
import uuid
from datetime import date, datetime, timezone

import pytest
from PIL import Image
from sqlalchemy import delete, func, select

from backend.audit import AuditEntry
from backend.auth.models import CitizenAccount, OfficeUser
from backend.extensions import db
from backend.merchants.models import HolidayCalendarDay
from backend.recourse import due, service
from backend.recourse.models import Objection, ObjectionPhoto
from backend.timeutil import iso, local_day
from tests.recourse.test_api import citizen_for, shop  # noqa: F401  (the fixture)

SMS_LOGGER = "backend.auth.sms"


def image_bytes(fmt: str, *, size=(64, 48), exif: bool = False) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    out = io.BytesIO()
    extra = {}
    if exif:
        data = Image.Exif()
        data[0x010F] = "TestPhoneMaker"  # Make
        data[0x0112] = 6  # Orientation: rotate 90° to be upright
        extra["exif"] = data.tobytes()
    image.save(out, format=fmt, **extra)
    return out.getvalue()


@pytest.fixture
def photo_dir(app, tmp_path, monkeypatch):
    folder = tmp_path / "photos"
    monkeypatch.setitem(app.config, "OBJECTION_PHOTO_DIR", str(folder))
    return folder


@pytest.fixture
def office(token):
    return {"Authorization": f"Bearer {token('office-admin')}"}


def file_complaint(client, headers, partner_id, text="收银员拒绝给九八折优惠。") -> int:
    answer = client.post("/api/objections", headers=headers,
                         json={"kind": "complaint", "text": text, "partner_id": partner_id})
    assert answer.status_code == 201, answer.json
    return answer.json["id"]


def upload(client, headers, objection_id, data: bytes, name="photo.jpg", mimetype="image/jpeg"):
    return client.post(f"/api/objections/{objection_id}/photos", headers=headers,
                       data={"file": (io.BytesIO(data), name, mimetype)}, content_type="multipart/form-data")


# -- photos -----------------------------------------------------------------------------------------

def test_photos_of_each_accepted_type_are_kept_in_files_and_served_to_the_owner_and_the_office(
        app, shop, client, photo_dir, office, token):
    owner = citizen_for(app, shop.holder())
    objection_id = file_complaint(client, owner, shop.partner_id)
    urls = []
    for fmt, mime in (("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")):
        # The claimed type is ignored: the content decides.
        answer = upload(client, owner, objection_id, image_bytes(fmt), name="x.bin", mimetype="application/octet-stream")
        assert answer.status_code == 201, answer.json
        urls.append((answer.json["url"], mime))
    rows = db.session.scalars(select(ObjectionPhoto).where(ObjectionPhoto.objection_id == objection_id)).all()
    assert sorted(p.name for p in photo_dir.iterdir()) == sorted(r.stored_name for r in rows)
    assert all(re.fullmatch(r"[0-9a-f]{32}\.(jpg|png|webp)", r.stored_name) for r in rows)
    listed = client.get("/api/objections", headers=owner).json["objections"][0]
    assert listed["photos"] == [url for url, _ in urls]
    for url, mime in urls:
        for who in (owner, office):
            with client.get(url, headers=who) as got:
                assert got.status_code == 200 and got.mimetype == mime
                assert "no-store" in got.headers["Cache-Control"]
                assert got.headers["X-Content-Type-Options"] == "nosniff"
                Image.open(io.BytesIO(got.data)).verify()
    queue = client.get("/api/office/objections", headers=office).json["objections"]
    assert queue[0]["photos"] == [url for url, _ in urls]
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "objection.photo")).all()
    assert len(entries) == 3 and all(e.target == f"objection:{objection_id}" for e in entries)


def test_another_citizen_a_merchant_and_nobody_cannot_fetch_a_photo(app, shop, client, photo_dir, token):
    owner = citizen_for(app, shop.holder())
    objection_id = file_complaint(client, owner, shop.partner_id)
    url = upload(client, owner, objection_id, image_bytes("PNG")).json["url"]
    stranger = citizen_for(app, shop.holder())
    assert client.get(url, headers=stranger).status_code == 404
    assert client.get(url, headers=shop.header(role="merchant_admin")).json["code"] == "forbidden"
    assert client.get(url, headers=shop.header()).status_code == 403
    assert client.get(url).status_code == 401
    assert client.get(url.replace(f"/{objection_id}/", f"/{objection_id + 1}/"), headers=owner).status_code == 404
    # nor may another citizen add to it
    assert upload(client, stranger, objection_id, image_bytes("PNG")).status_code == 404


def test_exif_is_stripped_and_the_photo_turned_upright(app, shop, client, photo_dir):
    owner = citizen_for(app, shop.holder())
    objection_id = file_complaint(client, owner, shop.partner_id)
    sent = image_bytes("JPEG", size=(80, 40), exif=True)
    assert b"TestPhoneMaker" in sent
    url = upload(client, owner, objection_id, sent).json["url"]
    with client.get(url, headers=owner) as got:
        kept = got.data
    assert b"TestPhoneMaker" not in kept
    image = Image.open(io.BytesIO(kept))
    assert dict(image.getexif()) == {} and image.size == (40, 80)


@pytest.mark.parametrize("data, code", [
    (b"GIF89a" + b"\0" * 64, "unsupported_media_type"),                  # a GIF: not a type we take
    (b"%PDF-1.7\n" + b"x" * 64, "unsupported_media_type"),
    (b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8, "unsupported_media_type"),  # right magic, broken body
    (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "unsupported_media_type"),
])
def test_what_is_not_a_jpeg_png_or_webp_by_content_is_refused_and_nothing_kept(
        app, shop, client, photo_dir, data, code):
    owner = citizen_for(app, shop.holder())
    objection_id = file_complaint(client, owner, shop.partner_id)
    answer = upload(client, owner, objection_id, data, name="photo.jpg", mimetype="image/jpeg")
    assert answer.status_code == 415 and answer.json["code"] == code, answer.json
    assert "照片" in answer.json["message"]
    assert not photo_dir.exists() or not any(photo_dir.iterdir())
    assert db.session.scalar(select(ObjectionPhoto.id)) is None


def test_size_and_count_limits_come_from_settings(app, shop, client, photo_dir, monkeypatch):
    owner = citizen_for(app, shop.holder())
    objection_id = file_complaint(client, owner, shop.partner_id)
    big = image_bytes("PNG", size=(400, 400))
    monkeypatch.setitem(app.config, "OBJECTION_PHOTO_MAX_BYTES", len(big) - 1)
    too_big = upload(client, owner, objection_id, big)
    assert too_big.status_code == 413 and too_big.json["code"] == "payload_too_large" and "MB" in too_big.json["message"]
    # far beyond the limit: refused before the body is read
    assert upload(client, owner, objection_id, b"\xff\xd8\xff" + b"\0" * (len(big) + 200_000)).status_code == 413
    monkeypatch.setitem(app.config, "OBJECTION_PHOTO_MAX_BYTES", 5 << 20)
    for _ in range(3):
        assert upload(client, owner, objection_id, image_bytes("JPEG")).status_code == 201
    fourth = upload(client, owner, objection_id, image_bytes("JPEG"))
    assert fourth.status_code == 409 and "最多 3 张" in fourth.json["message"]
    assert len(list(photo_dir.iterdir())) == 3


def test_no_photo_is_added_once_the_objection_is_closed(app, shop, client, photo_dir, office):
    owner = citizen_for(app, shop.holder())
    objection_id = file_complaint(client, owner, shop.partner_id)
    client.post(f"/api/office/objections/{objection_id}/answer", headers=office, json={"text": "已核实处理。"})
    assert upload(client, owner, objection_id, image_bytes("PNG")).status_code == 409


def test_each_time_the_office_opens_a_photo_the_audit_log_says_who_and_which_the_owner_not(
        app, shop, client, photo_dir, token):
    owner = citizen_for(app, shop.holder())
    objection_id = file_complaint(client, owner, shop.partner_id)
    first, second = (upload(client, owner, objection_id, image_bytes("PNG")).json["id"] for _ in range(2))

    def views() -> list[tuple]:
        db.session.rollback()  # a fresh read
        return [(e.actor, e.target, e.detail) for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "objection.photo_view").order_by(AuditEntry.id))]

    roles = ("office-admin", "office-analyst", "office-auditor")  # the demo's clerks, named as their roles
    for role in roles:
        with client.get(f"/api/objections/{objection_id}/photos/{second}",
                        headers={"Authorization": f"Bearer {token(role)}"}) as got:
            assert got.status_code == 200
    clerks = [f"office:{db.session.scalar(select(OfficeUser.id).where(OfficeUser.username == role))}" for role in roles]
    assert views() == [(clerk, f"objection:{objection_id}", {"photo_id": second}) for clerk in clerks]
    # The owner seeing their own photo is no office read; what was not served is not recorded.
    with client.get(f"/api/objections/{objection_id}/photos/{first}", headers=owner) as got:
        assert got.status_code == 200
    office = {"Authorization": f"Bearer {token('office-admin')}"}
    assert client.get(f"/api/objections/{objection_id + 1}/photos/{first}", headers=office).status_code == 404
    stored = db.session.get(ObjectionPhoto, first).stored_name
    (photo_dir / stored).unlink()
    assert client.get(f"/api/objections/{objection_id}/photos/{first}", headers=office).status_code == 404
    assert len(views()) == 3
    # ... and the auditor finds the entry through the audit log's API, filtered by the action.
    listed = client.get("/api/office/audit?action=objection.photo_view",
                        headers={"Authorization": f"Bearer {token('office-auditor')}"}).json["entries"]
    assert len(listed) == 3 and listed[0]["detail"] == {"photo_id": second}


# -- a photo's file goes with its row, once the deletion commits ---------------------------------------

def objection_with_photos(app, shop, client, photo_dir, count: int = 2) -> tuple[int, list[int], list]:
    """A complaint with `count` photos: its id, the photos' ids and their files."""
    owner = citizen_for(app, shop.holder())
    objection_id = file_complaint(client, owner, shop.partner_id)
    for _ in range(count):
        assert upload(client, owner, objection_id, image_bytes("PNG")).status_code == 201
    rows = db.session.execute(select(ObjectionPhoto.id, ObjectionPhoto.stored_name).where(
        ObjectionPhoto.objection_id == objection_id).order_by(ObjectionPhoto.id)).all()
    return objection_id, [row.id for row in rows], [photo_dir / row.stored_name for row in rows]


# Each way the session deletes photo rows: what it deletes (the objection's id, its photos' ids) and
# which of its photos go (by index).
DELETIONS = {
    "one photo, through the ORM": (
        lambda objection_id, photo_ids: db.session.delete(db.session.get(ObjectionPhoto, photo_ids[0])), [0]),
    "the objection through the ORM, its photos by ON DELETE CASCADE": (
        lambda objection_id, photo_ids: db.session.delete(db.session.get(Objection, objection_id)), [0, 1]),
    "one photo, by a DELETE statement": (
        lambda objection_id, photo_ids: db.session.execute(
            delete(ObjectionPhoto).where(ObjectionPhoto.id == photo_ids[0])), [0]),
    "the objection, by a DELETE statement": (
        lambda objection_id, photo_ids: db.session.execute(
            delete(Objection).where(Objection.id == objection_id)), [0, 1]),
    "the photos, by a DELETE on the table (as the tests' cleanup does)": (
        lambda objection_id, photo_ids: db.session.execute(
            ObjectionPhoto.__table__.delete().where(ObjectionPhoto.__table__.c.objection_id == objection_id)), [0, 1]),
}


def exists(files) -> list[bool]:
    return [file.exists() for file in files]


@pytest.mark.parametrize("how", DELETIONS)
def test_a_photos_file_is_removed_once_the_deletion_of_its_row_commits(app, shop, client, photo_dir, how):
    objection_id, photo_ids, files = objection_with_photos(app, shop, client, photo_dir)
    _, _, others = objection_with_photos(app, shop, client, photo_dir, count=1)  # another objection's
    deleting, gone = DELETIONS[how]
    deleting(objection_id, photo_ids)
    db.session.flush()
    assert exists(files) == [True, True]  # not before the commit: the transaction could still roll back
    db.session.commit()
    assert exists(files) == [index not in gone for index in range(2)]
    assert db.session.scalar(select(func.count()).select_from(ObjectionPhoto).where(
        ObjectionPhoto.objection_id == objection_id)) == 2 - len(gone)
    assert exists(others) == [True]


@pytest.mark.parametrize("how", DELETIONS)
def test_a_rolled_back_deletion_keeps_the_row_and_its_file_and_the_photo_is_still_served(
        app, shop, client, photo_dir, office, how):
    objection_id, photo_ids, files = objection_with_photos(app, shop, client, photo_dir)
    deleting, _ = DELETIONS[how]
    deleting(objection_id, photo_ids)
    db.session.flush()
    db.session.rollback()
    db.session.commit()  # a later commit of the same session removes nothing either
    assert exists(files) == [True, True]
    assert db.session.scalars(select(ObjectionPhoto.id).where(ObjectionPhoto.objection_id == objection_id)
                              .order_by(ObjectionPhoto.id)).all() == photo_ids
    for photo_id in photo_ids:
        with client.get(f"/api/objections/{objection_id}/photos/{photo_id}", headers=office) as got:
            assert got.status_code == 200


def test_a_deletion_in_a_savepoint_removes_files_only_when_the_savepoint_and_the_transaction_commit(
        app, shop, client, photo_dir):
    objection_id, photo_ids, files = objection_with_photos(app, shop, client, photo_dir, count=3)

    def kept() -> list[int]:
        return db.session.scalars(select(ObjectionPhoto.id).where(ObjectionPhoto.objection_id == objection_id)
                                  .order_by(ObjectionPhoto.id)).all()

    # The savepoint rolls back, the transaction commits: the row and its file stay.
    with db.session.begin_nested() as savepoint:
        db.session.delete(db.session.get(ObjectionPhoto, photo_ids[0]))
        db.session.flush()
        savepoint.rollback()
    db.session.commit()
    assert exists(files) == [True, True, True] and kept() == photo_ids
    # The savepoint is released, the transaction around it rolls back: everything stays. (The
    # transaction writes before its savepoint: with Python's sqlite3, a SAVEPOINT that opens the
    # transaction makes its RELEASE a COMMIT.)
    db.session.delete(db.session.get(ObjectionPhoto, photo_ids[2]))
    db.session.flush()
    with db.session.begin_nested():
        db.session.execute(delete(ObjectionPhoto).where(ObjectionPhoto.id == photo_ids[1]))
    assert exists(files) == [True, True, True]
    db.session.rollback()
    assert exists(files) == [True, True, True] and kept() == photo_ids
    # Released, and the transaction commits: gone, with the photo deleted outside the savepoint.
    db.session.delete(db.session.get(ObjectionPhoto, photo_ids[2]))
    db.session.flush()
    with db.session.begin_nested():
        db.session.execute(delete(ObjectionPhoto).where(ObjectionPhoto.id == photo_ids[1]))
    db.session.commit()
    assert exists(files) == [True, False, False] and kept() == photo_ids[:1]


# -- the due date in working days ----------------------------------------------------------------------

def test_working_days_skip_weekends_and_the_days_of_the_calendar():
    holidays = {date(2026, 10, d) for d in range(1, 8)}
    assert due.nth_working_day_after(date(2026, 9, 30), 1, holidays) == date(2026, 10, 8)
    assert due.nth_working_day_after(date(2026, 11, 6), 1, set()) == date(2026, 11, 9)  # Friday → Monday
    assert due.nth_working_day_after(date(2026, 11, 2), 5, set()) == date(2026, 11, 9)


def test_a_make_up_working_day_on_a_weekend_counts():
    holidays = {date(2026, 10, d) for d in range(1, 8)}
    workdays = {date(2026, 9, 20), date(2026, 10, 10)}  # 国庆节调休：周日、周六上班
    assert due.nth_working_day_after(date(2026, 9, 18), 1, holidays, workdays) == date(2026, 9, 20)  # Fri → Sun
    assert due.nth_working_day_after(date(2026, 9, 18), 1, holidays) == date(2026, 9, 21)
    assert due.nth_working_day_after(date(2026, 10, 8), 2, holidays, workdays) == date(2026, 10, 10)  # Thu → Sat
    assert due.nth_working_day_after(date(2026, 10, 8), 2, holidays) == date(2026, 10, 12)


def test_the_due_date_crosses_the_national_day_holiday_and_its_make_up_saturday_of_the_city_calendar(app, shop):
    # The real rows `flask city load cities/zhaodong.toml` wrote (the demo seed loads it): 国庆节 1-7
    # October off, Sunday 20 September and Saturday 10 October worked (the State Council's 2026 notice).
    national_day = db.session.execute(select(HolidayCalendarDay.day, HolidayCalendarDay.kind).where(
        HolidayCalendarDay.calendar == "major_holidays", HolidayCalendarDay.name == "国庆节",
        HolidayCalendarDay.day.between(date(2026, 9, 1), date(2026, 10, 31))).order_by(HolidayCalendarDay.day)).all()
    assert [tuple(row) for row in national_day] == [(date(2026, 9, 20), "workday")] + [
        (date(2026, 10, d), "holiday") for d in range(1, 8)] + [(date(2026, 10, 10), "workday")]
    filed = datetime(2026, 9, 30, 2, 0, tzinfo=timezone.utc)  # Wednesday 10:00 in Beijing
    rules = service.ObjectionRules(due_working_days=7, calendar="major_holidays", photo_dir="unused",
                                   photo_max_bytes=1, photos_max=3)
    account = CitizenAccount(phone="13600009999", subject_id=shop.holder())
    db.session.add(account)
    db.session.commit()
    objection = service.file_objection(account_id=account.id, kind="credit", text="积分计算有误，请核实。",
                                       redemption_id=None, partner_id=None, rules=rules, now=filed)
    # 8, 9, 10 (the make-up Saturday) Oct; 12-15 Oct: the seventh working day is Thursday 15 October,
    # due by its end in Beijing (a day earlier than weekends alone would make it).
    assert objection.due_at == datetime(2026, 10, 15, 15, 59, 59, tzinfo=timezone.utc)
    # Without the calendar the same seven days end on Friday 9 October.
    other = service.file_objection(account_id=account.id, kind="credit", text="积分计算有误，请核实。",
                                   redemption_id=None, partner_id=None,
                                   rules=rules.__class__(**{**rules.__dict__, "calendar": "no_such_calendar"}), now=filed)
    assert other.due_at == datetime(2026, 10, 9, 15, 59, 59, tzinfo=timezone.utc)


def test_an_overdue_objection_is_flagged_until_it_is_closed(app, shop, client, office):
    owner = citizen_for(app, shop.holder())
    objection_id = file_complaint(client, owner, shop.partner_id)
    db.session.get(Objection, objection_id).due_at = datetime(2026, 1, 5, tzinfo=timezone.utc)
    db.session.commit()
    assert client.get("/api/objections", headers=owner).json["objections"][0]["overdue"] is True
    client.post(f"/api/office/objections/{objection_id}/accept", headers=office)
    assert client.get("/api/office/objections", headers=office).json["objections"][0]["overdue"] is True
    client.post(f"/api/office/objections/{objection_id}/answer", headers=office, json={"text": "已处理。"})
    assert client.get("/api/objections", headers=owner).json["objections"][0]["overdue"] is False


# -- a due date follows the calendar --------------------------------------------------------------------

@pytest.fixture
def own_calendar(app, monkeypatch):
    """A calendar of the test's own as OBJECTION_CALENDAR: its changes move no other test's objections."""
    name = f"due_{uuid.uuid4().hex[:8]}"
    monkeypatch.setitem(app.config, "OBJECTION_CALENDAR", name)
    return name


def due_moves(objection_id: int) -> list[dict]:
    return [entry.detail for entry in db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "objection.due_moved", AuditEntry.target == f"objection:{objection_id}")
        .order_by(AuditEntry.id))]


def test_an_open_objections_due_date_follows_the_days_the_office_changes(app, shop, client, office, own_calendar):
    owner = citizen_for(app, shop.holder())
    open_id, closed_id = file_complaint(client, owner, shop.partner_id), file_complaint(client, owner, shop.partner_id)
    client.post(f"/api/office/objections/{closed_id}/accept", headers=office)
    client.post(f"/api/office/objections/{closed_id}/answer", headers=office, json={"text": "已处理。"})
    objection = db.session.get(Objection, open_id)
    filed, before = local_day(objection.created_at), objection.due_at
    closed_due = db.session.get(Objection, closed_id).due_at
    assert local_day(before) == due.nth_working_day_after(filed, 7, set())
    holiday = due.nth_working_day_after(filed, 1, set())  # the first working day it counted
    beyond = due.nth_working_day_after(filed, 9, set())  # after its due day: counts for nothing

    def days_url(day: date | None = None) -> str:
        return f"/api/office/calendars/{own_calendar}/days" + (f"/{day.isoformat()}" if day else "")

    def due_now(objection_id: int):
        db.session.expire_all()
        return db.session.get(Objection, objection_id).due_at

    assert client.post(days_url(), headers=office, json={"day": beyond.isoformat(), "name": "测试"}).status_code == 201
    assert due_now(open_id) == before and due_moves(open_id) == []
    assert client.post(days_url(), headers=office, json={"day": holiday.isoformat(), "name": "测试"}).status_code == 201
    after = due_now(open_id)
    assert local_day(after) == due.nth_working_day_after(filed, 7, {holiday, beyond}) > local_day(before)
    assert due_moves(open_id) == [{"before": iso(before), "after": iso(after)}]
    mine = next(o for o in client.get("/api/objections", headers=owner).json["objections"] if o["id"] == open_id)
    assert datetime.fromisoformat(mine["due_at"].replace("Z", "+00:00")) == after  # what the citizen is shown
    # Taken out again, the day gives the date back; a closed objection keeps what it was answered against.
    assert client.delete(days_url(holiday), headers=office).status_code == 204
    assert due_now(open_id) == before and len(due_moves(open_id)) == 2
    assert due_now(closed_id) == closed_due and due_moves(closed_id) == []


def test_a_moved_due_date_keeps_the_count_of_days_it_was_filed_under(app, shop, client, office, own_calendar,
                                                                    monkeypatch):
    owner = citizen_for(app, shop.holder())
    open_id = file_complaint(client, owner, shop.partner_id)
    objection = db.session.get(Objection, open_id)
    filed = local_day(objection.created_at)
    assert objection.due_working_days == app.config["OBJECTION_DUE_WORKING_DAYS"] == 7
    monkeypatch.setitem(app.config, "OBJECTION_DUE_WORKING_DAYS", 15)  # the city changed the rule since
    holiday = due.nth_working_day_after(filed, 1, set())
    assert client.post(f"/api/office/calendars/{own_calendar}/days", headers=office,
                       json={"day": holiday.isoformat(), "name": "测试"}).status_code == 201
    db.session.expire_all()
    assert local_day(db.session.get(Objection, open_id).due_at) == due.nth_working_day_after(filed, 7, {holiday})


def test_a_city_file_that_changes_the_calendar_moves_due_dates_in_its_own_transaction(
        app, shop, client, runner, own_calendar, tmp_path):
    owner = citizen_for(app, shop.holder())
    open_id = file_complaint(client, owner, shop.partner_id)
    objection = db.session.get(Objection, open_id)
    filed, before = local_day(objection.created_at), objection.due_at
    holiday = due.nth_working_day_after(filed, 2, set())
    city = tmp_path / "calendar.toml"
    city.write_text(f'[[calendars]]\nname = "{own_calendar}"\nyear = {holiday.year}\n'
                    f'holidays = [{{ from = "{holiday.isoformat()}", days = 1, name = "测试" }}]\n', encoding="utf-8")
    result = runner.invoke(args=["city", "load", str(city)])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    after = db.session.get(Objection, open_id).due_at
    assert local_day(after) == due.nth_working_day_after(filed, 7, {holiday})
    assert due_moves(open_id) == [{"before": iso(before), "after": iso(after)}]
    assert "无改动" in runner.invoke(args=["city", "load", str(city)]).output
    assert len(due_moves(open_id)) == 1


# -- statuses, SMS and audit ---------------------------------------------------------------------------

def test_each_change_of_status_is_texted_through_the_log_sender_and_audited(app, shop, client, office, caplog):
    owner = citizen_for(app, shop.holder())
    phone = db.session.scalars(select(CitizenAccount.phone).order_by(CitizenAccount.id.desc())).first()
    objection_id = file_complaint(client, owner, shop.partner_id)
    admin = db.session.scalar(select(OfficeUser).where(OfficeUser.role == "office_admin", OfficeUser.active.is_(True)))
    queue = client.get("/api/office/objections", headers=office).json
    assert {"id": admin.id, "username": admin.username} in queue["assignees"]

    def texts():
        return [r.getMessage() for r in caplog.records if r.name == SMS_LOGGER and phone in r.getMessage()]

    with caplog.at_level("INFO", logger=SMS_LOGGER):
        early = client.post(f"/api/office/objections/{objection_id}/assign", headers=office,
                            json={"assignee_id": admin.id})
        assert early.status_code == 409 and "受理" in early.json["message"]
        accepted = client.post(f"/api/office/objections/{objection_id}/accept", headers=office)
        assert (accepted.status_code, accepted.json["status"], accepted.json["status_name"]) == (200, "accepted", "已受理")
        assert client.post(f"/api/office/objections/{objection_id}/accept", headers=office).status_code == 409
        assigned = client.post(f"/api/office/objections/{objection_id}/assign", headers=office,
                               json={"assignee_id": admin.id})
        assert (assigned.json["status"], assigned.json["assigned_to"]) == ("in_progress", admin.username)
        # reassigning keeps 处理中 and sends nothing new
        client.post(f"/api/office/objections/{objection_id}/assign", headers=office, json={"assignee_id": admin.id})
        bad = client.post(f"/api/office/objections/{objection_id}/assign", headers=office, json={"assignee_id": 999999})
        assert bad.status_code == 422
        closed = client.post(f"/api/office/objections/{objection_id}/answer", headers=office,
                             json={"text": "已约谈商户，退还差价。"})
        assert closed.json["status"] == "closed"
    sent = texts()
    assert len(sent) == 3, sent
    for message, name in zip(sent, ("已受理", "处理中", "已办结")):
        assert f"编号 {objection_id}" in message and f"“{name}”" in message
        assert "差价" not in message and "九八折" not in message  # never the content on a lock screen
    mine = client.get("/api/objections", headers=owner).json["objections"][0]
    assert (mine["status"], mine["status_name"], mine["answer"]) == ("closed", "已办结", "已约谈商户，退还差价。")
    actions = [e.action for e in db.session.scalars(select(AuditEntry).where(
        AuditEntry.target == f"objection:{objection_id}").order_by(AuditEntry.id))]
    assert actions == ["objection.file", "objection.accept", "objection.sms", "objection.assign", "objection.sms",
                       "objection.assign", "objection.answer", "objection.sms"]


def test_a_failing_sms_gateway_never_undoes_the_change(app, shop, client, office, monkeypatch):
    owner = citizen_for(app, shop.holder())
    objection_id = file_complaint(client, owner, shop.partner_id)

    class Down:
        def send(self, phone, text, **_template):
            raise ConnectionError("gateway down")

    monkeypatch.setitem(app.extensions, "sms_sender", Down())
    assert client.post(f"/api/office/objections/{objection_id}/accept", headers=office).status_code == 200
    assert db.session.get(Objection, objection_id).status == "accepted"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "objection.sms")).one()
    assert entry.detail == {"status": "accepted", "sent": False}


def test_through_tencent_the_status_goes_out_on_its_own_approved_template(app, shop, client, office, monkeypatch):
    """A template provider sends the status template with its three values, never the sign-in code's."""
    from tests.auth.fake_tencent_sms import (OBJECTION_TEMPLATE_ID, SDK_APP_ID, SECRET_ID, SECRET_KEY, SIGN_NAME,
                                             TEMPLATE_ID, FakeTencentSms)

    owner = citizen_for(app, shop.holder())
    objection_id = file_complaint(client, owner, shop.partner_id)
    phone = db.session.get(CitizenAccount, db.session.get(Objection, objection_id).account_id).phone
    with FakeTencentSms() as fake:
        for name, value in dict(SMS_PROVIDER="tencent", TENCENT_SMS_ENDPOINT=fake.endpoint, TENCENT_SMS_SECRET_ID=SECRET_ID,
                                TENCENT_SMS_SECRET_KEY=SECRET_KEY, TENCENT_SMS_SDK_APP_ID=SDK_APP_ID,
                                TENCENT_SMS_SIGN_NAME=SIGN_NAME, TENCENT_SMS_TEMPLATE_ID=TEMPLATE_ID,
                                TENCENT_SMS_OBJECTION_TEMPLATE_ID=OBJECTION_TEMPLATE_ID,
                                TENCENT_SMS_TIMEOUT=(1.0, 2.0)).items():
            monkeypatch.setitem(app.config, name, value)
        monkeypatch.delitem(app.extensions, "sms_sender", raising=False)
        assert client.post(f"/api/office/objections/{objection_id}/accept", headers=office).status_code == 200
        assert fake.refusals == []
        assert fake.sent == [(phone, OBJECTION_TEMPLATE_ID, ["投诉", str(objection_id), "已受理"])]
        monkeypatch.setitem(app.config, "TENCENT_SMS_OBJECTION_TEMPLATE_ID", None)  # no status template approved
        monkeypatch.delitem(app.extensions, "sms_sender", raising=False)
        answered = client.post(f"/api/office/objections/{objection_id}/answer", headers=office,
                               json={"text": "已约谈商户，退还差价。"})
        assert answered.status_code == 200 and len(fake.sent) == 1  # nothing sent, the change stands
    entries = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "objection.sms").order_by(AuditEntry.id))
    assert [entry.detail["sent"] for entry in entries] == [True, False]


# -- complaints about a partner, in its back-office -----------------------------------------------------

def test_the_merchant_sees_complaints_about_it_once_accepted_and_never_who_filed_them(app, shop, client, office):
    owner = citizen_for(app, shop.holder())
    objection_id = file_complaint(client, owner, shop.partner_id, text="服务员态度差，拒绝使用信用码。")
    file_complaint(client, owner, 1 if shop.partner_id != 1 else 2)  # about another partner
    client.post("/api/objections", headers=owner, json={"kind": "credit", "text": "积分计算有误，请核实。"})
    admin = shop.header(role="merchant_admin")
    assert client.get("/api/merchant/complaints", headers=admin).json == {"complaints": []}  # not accepted yet
    client.post(f"/api/office/objections/{objection_id}/accept", headers=office)
    listed = client.get("/api/merchant/complaints", headers=admin)
    assert listed.status_code == 200
    [complaint] = listed.json["complaints"]
    assert (complaint["id"], complaint["status"], complaint["status_name"], complaint["text"]) == (
        objection_id, "accepted", "已受理", "服务员态度差，拒绝使用信用码。")
    assert set(complaint) == {"id", "filed_on", "status", "status_name", "text", "accepted_at", "closed_at"}
    client.post(f"/api/office/objections/{objection_id}/answer", headers=office, json={"text": "已责令整改。"})
    closed = client.get("/api/merchant/complaints", headers=admin).json["complaints"][0]
    assert closed["status_name"] == "已办结" and closed["closed_at"] and "已责令整改" not in str(closed)
    assert client.get("/api/merchant/complaints", headers=shop.header()).status_code == 403  # a cashier


def test_a_complaint_must_name_a_partner_that_exists(app, shop, client):
    owner = citizen_for(app, shop.holder())
    for body in ({"kind": "complaint", "text": "服务很差，拒绝优惠。"},
                 {"kind": "complaint", "text": "服务很差，拒绝优惠。", "partner_id": 99999999}):
        answer = client.post("/api/objections", headers=owner, json=body)
        assert answer.status_code == 422 and answer.json["code"] == "validation_error"
    assert "合作单位" in answer.json["message"]
