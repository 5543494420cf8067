"""What each year of a holiday calendar rests on: the notice its days were checked against, or none
(预排). The office is told while a year due dates reach into is provisional or empty, and confirms it."""
from __future__ import annotations

import threading
import uuid
from datetime import date

from sqlalchemy import select

from backend.audit import AuditEntry
from backend.dbtypes import utcnow
from backend.extensions import db
from backend.merchants import catalog
from backend.merchants.models import HolidayCalendarYear
from backend.timeutil import local_day

NOTICE_2027 = "国务院办公厅关于2027年部分节假日安排的通知"


def fresh_calendar(client, office, *days: str) -> str:
    calendar = f"test_{uuid.uuid4().hex[:8]}"
    for day in days:
        added = client.post(f"/api/office/calendars/{calendar}/days", headers=office["admin"],
                            json={"day": day, "name": "国庆节"})
        assert added.status_code == 201, added.json
    return calendar


def test_the_demo_calendar_rests_on_the_2026_notice_and_2027_is_provisional(client, office):
    years = client.get("/api/office/calendars/major_holidays", headers=office["analyst"]).json["years"]
    by_year = {entry["year"]: entry for entry in years}
    assert by_year[2026] == {"year": 2026, "basis": "国务院办公厅关于2026年部分节假日安排的通知（2025年11月4日）",
                             "holidays": 33, "workdays": 6}
    assert by_year[2027]["basis"] is None and by_year[2027]["holidays"] > 0


def test_attention_names_the_years_within_sixty_days_that_are_empty_or_provisional(ctx, client, office):
    calendar = fresh_calendar(client, office, "2027-10-01")
    catalog.confirm_calendar_year(actor="test", calendar=calendar, year=2027, basis=NOTICE_2027)
    fresh_calendar_2028 = fresh_calendar(client, office, "2028-10-01")

    def attention(name: str, today: date) -> list:
        return catalog.calendar_attention(name, today=today)

    assert attention(calendar, date(2027, 3, 1)) == []  # 2027 rests on its notice; 60 days stay within it
    assert attention(calendar, date(2027, 11, 1)) == []
    assert attention(calendar, date(2027, 11, 2)) == [{"year": 2028, "state": "missing"}]  # Jan 1 is 60 days on
    assert attention(calendar, date(2026, 12, 2)) == [{"year": 2026, "state": "missing"}]
    assert attention(fresh_calendar_2028, date(2027, 12, 2)) == [
        {"year": 2027, "state": "missing"}, {"year": 2028, "state": "provisional"}]
    # The demo's major_holidays today: what the office's screens show.
    today = local_day(utcnow())
    shown = client.get("/api/office/calendars/major_holidays", headers=office["analyst"]).json["attention"]
    assert shown == attention("major_holidays", today)
    objections = client.get("/api/office/objections", headers=office["analyst"]).json
    assert objections["calendar"] == "major_holidays" and objections["calendar_attention"] == shown
    if date(2026, 11, 2) <= today <= date(2026, 12, 31):
        assert shown == [{"year": 2027, "state": "provisional"}]


def test_a_clerk_confirms_a_year_against_its_notice_and_it_is_audited(client, office):
    calendar = fresh_calendar(client, office, "2027-10-01", "2027-10-02")
    listed = client.get(f"/api/office/calendars/{calendar}", headers=office["analyst"]).json
    assert listed["years"] == [{"year": 2027, "basis": None, "holidays": 2, "workdays": 0}]
    confirmed = client.put(f"/api/office/calendars/{calendar}/years/2027", headers=office["admin"],
                           json={"basis": f"  {NOTICE_2027}  "})
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["years"] == [{"year": 2027, "basis": NOTICE_2027, "holidays": 2, "workdays": 0}]
    assert all(entry["year"] != 2027 for entry in confirmed.json["attention"])
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "calendar.confirm_year",
                                                         AuditEntry.target == f"calendar:{calendar}")).one()
    assert entry.detail == {"year": 2027, "before": None, "basis": NOTICE_2027}
    # Again, with a corrected title: one row, two audit entries.
    again = client.put(f"/api/office/calendars/{calendar}/years/2027", headers=office["admin"],
                       json={"basis": NOTICE_2027 + "（国办发明电〔2026〕x号）"})
    assert again.status_code == 200 and again.json["years"][0]["basis"].endswith("号）")
    rows = db.session.scalars(select(HolidayCalendarYear).where(HolidayCalendarYear.calendar == calendar)).all()
    assert len(rows) == 1


def test_a_year_without_holidays_or_a_blank_basis_is_refused_in_chinese(client, office, auth_header):
    calendar = fresh_calendar(client, office, "2027-10-01")
    empty = client.put(f"/api/office/calendars/{calendar}/years/2028", headers=office["admin"],
                       json={"basis": NOTICE_2027})
    assert empty.status_code == 422 and empty.json["code"] == "validation_error" and empty.json["field"] == "year"
    assert empty.json["message"] == "日历中还没有 2028 年的放假日期：请先按通知录入，再确认依据"
    blank = client.put(f"/api/office/calendars/{calendar}/years/2027", headers=office["admin"], json={"basis": "   "})
    assert blank.status_code == 422 and blank.json["field"] == "basis" and blank.json["message"] == "请填写所依据的通知"
    missing = client.put(f"/api/office/calendars/{calendar}/years/2027", headers=office["admin"], json={})
    assert missing.status_code == 422 and missing.json["code"] == "validation_error"
    far = client.put(f"/api/office/calendars/{calendar}/years/1999", headers=office["admin"], json={"basis": "x"})
    assert far.status_code == 422 and far.json["field"] == "year"
    assert client.get(f"/api/office/calendars/{calendar}", headers=office["analyst"]).json["years"][0]["basis"] is None
    for role in ("office-analyst", "office-auditor", "merchant-admin", "citizen"):
        denied = client.put(f"/api/office/calendars/{calendar}/years/2027", headers=auth_header(role),
                            json={"basis": NOTICE_2027})
        assert denied.status_code == 403, role


def test_two_clerks_confirming_at_once_leave_one_row(app, client, office):
    calendar = fresh_calendar(client, office, "2027-10-01")
    barrier = threading.Barrier(4)
    failures = []

    def confirm(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                catalog.confirm_calendar_year(actor=f"test:{n}", calendar=calendar, year=2027,
                                              basis=f"{NOTICE_2027} {n}")
            except Exception as error:  # noqa: BLE001 - the assertion below shows it
                failures.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=confirm, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    rows = db.session.scalars(select(HolidayCalendarYear).where(HolidayCalendarYear.calendar == calendar)).all()
    assert len(rows) == 1 and rows[0].basis.startswith(NOTICE_2027)
    assert len(db.session.scalars(select(AuditEntry).where(AuditEntry.action == "calendar.confirm_year",
                                                            AuditEntry.target == f"calendar:{calendar}")).all()) == 4
