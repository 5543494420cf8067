"""The office signs up partners and writes perk rules as data; the directory and redemption follow
at once, every change is audited, and only office admins may write."""
from __future__ import annotations

import importlib
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from backend.credit.models import CreditSubject
from backend.extensions import db
from backend.merchants.models import Perk
from backend.audit import AuditEntry
from backend.timeutil import local_day

pass_service = importlib.import_module("backend.pass.service")
key_context = importlib.import_module("backend.pass.context").key_context


def redeem(client, headers, perk_id, *, holder_tier=2):
    subject = db.session.scalar(select(CreditSubject).where(CreditSubject.kind == "person",
                                                            CreditSubject.tier_level == holder_tier,
                                                            CreditSubject.black_listed.is_(False)))
    token = pass_service.issue(ctx=key_context(), holder_id=subject.id, holder_kind="person",
                               tier_level=holder_tier).token
    return client.post("/api/redemptions", headers=headers, json={
        "token": token, "perk_id": perk_id, "client_id": str(uuid.uuid4()),
        "scanned_at": datetime.now(timezone.utc).isoformat(), "amount_fen": 10000})


def test_sign_up_a_partner_and_a_perk_and_see_them_in_the_public_directory(client, office):
    scenario = client.post("/api/office/scenarios", headers=office["admin"], json={"code": "parking_t", "name": "信易+停车"})
    assert scenario.status_code == 201
    partner = client.post("/api/office/partners", headers=office["admin"],
                          json={"name": "肇东市中心停车场", "scenario_code": "parking_t", "address": "肇东市正阳大街"})
    assert partner.status_code == 201 and partner.json["active"] is True
    pid = partner.json["id"]
    perk = client.post(f"/api/office/partners/{pid}/perks", headers=office["admin"], json={
        "kind": "discount", "title": "停车费八八折", "discount_permille": 880, "max_discount_fen": 1000,
        "holder_kinds": ["person"], "min_tier": "good", "limit_per_holder_per_day": 1,
        "active_from": "2026-01-01", "blackout_calendar": "major_holidays"})
    assert perk.status_code == 201, perk.json
    assert perk.json["min_tier"] == "good" and perk.json["holder_kinds"] == ["person"]
    listed = {p["id"]: p for p in client.get("/api/partners").json["partners"]}[pid]
    assert listed["scenario"] == "信易+停车"
    assert listed["perks"] == [{
        "id": perk.json["id"], "kind": "discount", "title": "停车费八八折", "discount_permille": 880,
        "max_discount_fen": 1000, "min_tier": "good", "holder_kinds": ["person"], "quota_by_tier": None,
        "quota_unit": None, "active_from": "2026-01-01", "active_until": None, "blackout_calendar": "major_holidays",
        "limit_per_holder_per_day": 1, "time_windows": []}]
    # (the demo seed's own entries, e.g. city.load, stay when this test runs first on its worker)
    actions = db.session.scalars(select(AuditEntry.action).where(AuditEntry.action != "city.load")
                                 .order_by(AuditEntry.id)).all()
    assert actions[-3:] == ["scenario.create", "partner.create", "perk.create"]


def test_quota_perks_speak_tier_codes(client, office):
    library = next(p for p in client.get("/api/partners").json["partners"] if p["name"] == "肇东市图书馆")
    assert library["perks"][0]["quota_by_tier"] == {"basic": 3, "good": 4, "excellent": 5}
    pid = client.post("/api/office/partners", headers=office["admin"],
                      json={"name": "青州市图书馆", "scenario_code": "library"}).json["id"]
    made = client.post(f"/api/office/partners/{pid}/perks", headers=office["admin"], json={
        "kind": "extra_quota", "title": "借书 3/4/5 册", "quota_by_tier": {"basic": 3, "good": 4, "excellent": 5},
        "quota_unit": "册"})
    assert made.status_code == 201 and made.json["quota_by_tier"] == {"basic": 3, "good": 4, "excellent": 5}
    assert "discount_permille" not in {p["id"]: p for p in client.get("/api/partners").json["partners"]}[pid]["perks"][0]


@pytest.mark.parametrize("perk, field", [
    ({"kind": "discount", "title": "折扣"}, "discount_permille"),
    ({"kind": "discount", "title": "折扣", "discount_permille": 1000}, "discount_permille"),
    ({"kind": "green_channel", "title": "绿色通道", "discount_permille": 900}, "discount_permille"),
    ({"kind": "free_entry", "title": "入园", "min_tier": "gold"}, "min_tier"),
    ({"kind": "extra_quota", "title": "借书", "quota_by_tier": {"gold": 3}}, "quota_by_tier"),
    ({"kind": "free_entry", "title": "入园", "active_from": "2026-05-01", "active_until": "2026-04-01"}, "active_until"),
    ({"kind": "free_entry", "title": "入园", "limit_per_holder_per_day": 0}, "limit_per_holder_per_day"),
])
def test_a_rule_the_service_cannot_apply_is_refused(client, office, perk, field):
    pid = client.post("/api/office/partners", headers=office["admin"],
                      json={"name": "某单位", "scenario_code": "tourism"}).json["id"]
    response = client.post(f"/api/office/partners/{pid}/perks", headers=office["admin"], json=perk)
    assert response.status_code == 422 and response.json["code"] == "validation_error"
    assert response.json.get("field") == field
    assert db.session.scalar(select(func.count()).select_from(Perk).where(Perk.partner_id == pid)) == 0


def test_editing_a_rule_changes_the_next_redemption_without_code(client, office, auth_header):
    dining = next(p for p in client.get("/api/partners").json["partners"] if p["name"] == "辣盆盆小龙虾饭店")
    perk_id = dining["perks"][0]["id"]
    original = client.get("/api/office/partners", headers=office["analyst"]).json
    original_rules = next(p for p in original["partners"] if p["id"] == dining["id"])["perks"][0]
    try:
        changed = client.patch(f"/api/office/perks/{perk_id}", headers=office["admin"], json={"min_tier": "excellent"})
        assert changed.status_code == 200 and changed.json["min_tier"] == "excellent"
        refused = redeem(client, auth_header("cashier"), perk_id, holder_tier=2)
        assert refused.json["code"] == "tier_not_eligible"
        client.patch(f"/api/office/perks/{perk_id}", headers=office["admin"], json={"discount_permille": 950})
        assert {p["id"]: p for p in client.get("/api/partners").json["partners"]}[dining["id"]]["perks"][0][
            "discount_permille"] == 950
        accepted = redeem(client, auth_header("cashier"), perk_id, holder_tier=3)
        assert accepted.status_code == 201 and accepted.json["payable_fen"] == 9500
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "perk.update")).first()
        assert entry.detail == {"before": {"min_tier": "basic"}, "after": {"min_tier": "excellent"}}
    finally:
        client.patch(f"/api/office/perks/{perk_id}", headers=office["admin"], json={
            "min_tier": original_rules["min_tier"], "discount_permille": original_rules["discount_permille"]})


def test_a_partner_taken_off_leaves_the_directory_and_refuses_redemption(client, office, auth_header):
    dining = next(p for p in client.get("/api/partners").json["partners"] if p["name"] == "辣盆盆小龙虾饭店")
    try:
        off = client.patch(f"/api/office/partners/{dining['id']}", headers=office["admin"], json={"active": False})
        assert off.status_code == 200 and off.json["active"] is False
        assert dining["id"] not in {p["id"] for p in client.get("/api/partners").json["partners"]}
        refused = redeem(client, auth_header("cashier"), dining["perks"][0]["id"])
        assert refused.json["code"] == "perk_unavailable"
    finally:
        client.patch(f"/api/office/partners/{dining['id']}", headers=office["admin"], json={"active": True})


def test_blackout_days_are_data_too(client, office, auth_header):
    today = local_day(datetime.now(timezone.utc))
    dining = next(p for p in client.get("/api/partners").json["partners"] if p["name"] == "辣盆盆小龙虾饭店")
    perk_id = dining["perks"][0]["id"]
    try:
        client.patch(f"/api/office/perks/{perk_id}", headers=office["admin"], json={"blackout_calendar": "test_days"})
        added = client.post("/api/office/calendars/test_days/days", headers=office["admin"],
                            json={"day": today.isoformat(), "name": "测试节日"})
        assert added.status_code == 201 and added.json["days"] == [
            {"day": today.isoformat(), "name": "测试节日", "kind": "holiday"}]
        assert redeem(client, auth_header("cashier"), perk_id).json["code"] == "perk_unavailable"
        removed = client.delete(f"/api/office/calendars/test_days/days/{today.isoformat()}", headers=office["admin"])
        assert removed.status_code == 204
        assert redeem(client, auth_header("cashier"), perk_id).status_code == 201
        holidays = client.get("/api/office/calendars/major_holidays", headers=office["analyst"]).json["days"]
        assert {"day": "2026-10-01", "name": "国庆节", "kind": "holiday"} in holidays
        assert {"day": "2026-10-10", "name": "国庆节", "kind": "workday"} in holidays  # 调休上班 (周六)
    finally:
        client.patch(f"/api/office/perks/{perk_id}", headers=office["admin"], json={"blackout_calendar": None})


def test_the_office_adds_and_removes_a_make_up_working_day_which_must_be_a_weekend_day(client, office):
    calendar = f"test_{uuid.uuid4().hex[:8]}"  # the office fixture forgets its days
    added = client.post(f"/api/office/calendars/{calendar}/days", headers=office["admin"],
                        json={"day": "2027-02-20", "name": "春节", "kind": "workday"})  # a Saturday
    assert added.status_code == 201, added.json
    assert added.json["days"] == [{"day": "2027-02-20", "name": "春节", "kind": "workday"}]
    weekday = client.post(f"/api/office/calendars/{calendar}/days", headers=office["admin"],
                          json={"day": "2027-02-22", "name": "春节", "kind": "workday"})  # a Monday
    assert weekday.status_code == 422 and weekday.json["code"] == "validation_error"
    assert weekday.json["field"] == "day" and weekday.json["message"] == \
        "2027-02-22 是星期一：调休上班日须为周六或周日"
    unknown = client.post(f"/api/office/calendars/{calendar}/days", headers=office["admin"],
                          json={"day": "2027-02-21", "name": "春节", "kind": "weekend"})
    assert unknown.status_code == 422 and unknown.json["code"] == "validation_error"
    again = client.post(f"/api/office/calendars/{calendar}/days", headers=office["admin"],
                        json={"day": "2027-02-20", "name": "春节"})  # the day is taken, whatever its kind
    assert again.status_code == 422 and again.json["field"] == "day"
    listed = client.get(f"/api/office/calendars/{calendar}", headers=office["analyst"]).json["days"]
    assert listed == [{"day": "2027-02-20", "name": "春节", "kind": "workday"}]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "calendar.add_day",
                                                         AuditEntry.target == f"calendar:{calendar}")).one()
    assert entry.detail == {"day": "2027-02-20", "name": "春节", "kind": "workday"}
    assert client.delete(f"/api/office/calendars/{calendar}/days/2027-02-20",
                         headers=office["admin"]).status_code == 204
    assert client.get(f"/api/office/calendars/{calendar}", headers=office["analyst"]).json["days"] == []


def test_the_office_adds_a_notices_run_of_holidays_at_once_or_not_at_all(client, office):
    calendar = f"test_{uuid.uuid4().hex[:8]}"
    url = f"/api/office/calendars/{calendar}/days"
    spring = client.post(url, headers=office["admin"], json={"day": "2027-02-05", "days": 9, "name": "春节"})
    assert spring.status_code == 201, spring.json
    assert [d["day"] for d in spring.json["days"]] == [f"2027-02-{n:02d}" for n in range(5, 14)]
    assert {(d["name"], d["kind"]) for d in spring.json["days"]} == {("春节", "holiday")}
    assert spring.json["years"] == [{"year": 2027, "basis": None, "holidays": 9, "workdays": 0}]
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "calendar.add_day",
                                                         AuditEntry.target == f"calendar:{calendar}")).one()
    assert entry.detail == {"day": "2027-02-05", "name": "春节", "kind": "holiday", "days": 9}
    # A run reaching a day already there adds none of its days, and says which day was taken.
    overlapping = client.post(url, headers=office["admin"], json={"day": "2027-02-01", "days": 5, "name": "春节"})
    assert overlapping.status_code == 422 and overlapping.json["field"] == "day"
    assert overlapping.json["message"] == "2027-02-05 已在日历中：本次未增加任何日期"
    for refused, field in (({"day": "2027-02-20", "days": 2, "kind": "workday"}, "days"),
                           ({"day": "2027-03-01", "days": 0}, None), ({"day": "2027-03-01", "days": 32}, None),
                           ({"day": "2027-03-01", "days": "3"}, None), ({"day": "9999-12-31", "days": 2}, "days")):
        answer = client.post(url, headers=office["admin"], json={"name": "x", **refused})
        assert answer.status_code == 422 and answer.json["code"] == "validation_error", (refused, answer.json)
        if field:
            assert answer.json["field"] == field, refused
    listed = client.get(f"/api/office/calendars/{calendar}", headers=office["analyst"]).json["days"]
    assert len(listed) == 9


def test_a_calendar_code_longer_than_its_column_is_the_clients_error_on_every_write(client, office):
    for code in ("x" * 33, "日" * 40):
        base = f"/api/office/calendars/{code}"
        for method, path, body in (("post", "/days", {"day": "2027-01-01", "name": "元旦"}),
                                   ("post", "/days", {"day": "2027-01-01", "name": "元旦", "days": 3}),
                                   ("delete", "/days/2027-01-01", None),
                                   ("put", "/years/2027", {"basis": "国务院办公厅关于2027年部分节假日安排的通知"})):
            answer = getattr(client, method)(base + path, headers=office["admin"], json=body)
            assert answer.status_code == 422, (method, path, answer.status_code)
            assert (answer.json["code"], answer.json["field"], answer.json["message"]) == (
                "validation_error", "calendar", "日历代码须为 1 到 32 个字")
        assert client.get(base, headers=office["analyst"]).json["days"] == []
    ok = client.post(f"/api/office/calendars/{'y' * 32}/days", headers=office["admin"],
                     json={"day": "2027-01-01", "name": "元旦"})
    assert ok.status_code == 201, ok.json


def test_only_office_admins_write(client, office, auth_header):
    writes = [("post", "/api/office/partners", {"name": "x", "scenario_code": "dining"}),
              ("patch", "/api/office/perks/1", {"title": "x"}),
              ("post", "/api/office/scenarios", {"code": "x", "name": "x"}),
              ("post", "/api/office/calendars/x/days", {"day": "2026-01-01", "name": "x"})]
    for role in ("office-analyst", "office-auditor", "cashier", "merchant-admin", "citizen"):
        for method, path, payload in writes:
            response = getattr(client, method)(path, headers=auth_header(role), json=payload)
            assert response.status_code == 403, (role, path)
    assert client.post("/api/office/partners", json={"name": "x", "scenario_code": "dining"}).status_code == 401


def test_stats_leave_voided_redemptions_out(client, office, auth_header):
    dining = next(p for p in client.get("/api/partners").json["partners"] if p["name"] == "辣盆盆小龙虾饭店")
    made = [redeem(client, auth_header("cashier"), dining["perks"][0]["id"]).json for _ in range(2)]
    rows = client.get("/api/office/stats?group_by=partner", headers=office["analyst"]).json["rows"]
    assert rows == [{"key": "辣盆盆小龙虾饭店", "label": "辣盆盆小龙虾饭店", "redemptions": 2, "amount_fen": 20000,
                     "discount_fen": 400, "offline": 0, "beneficiaries": None}]
    client.post(f"/api/office/redemptions/{made[0]['id']}/void", headers=office["admin"], json={"reason": "重复核销"})
    for group_by in ("partner", "scenario", "tier", "day", "area", "holder_kind", "issuer"):
        rows = client.get(f"/api/office/stats?group_by={group_by}", headers=office["analyst"]).json["rows"]
        assert [(r["redemptions"], r["amount_fen"]) for r in rows] == [(1, 10000)], group_by


def test_failed_attempts_for_the_office_show_no_holder_for_unverified_passes(client, office, auth_header):
    dining = next(p for p in client.get("/api/partners").json["partners"] if p["name"] == "辣盆盆小龙虾饭店")
    client.post("/api/redemptions", headers=auth_header("cashier"), json={
        "token": "XYM:BAD", "perk_id": dining["perks"][0]["id"], "client_id": str(uuid.uuid4()),
        "scanned_at": datetime.now(timezone.utc).isoformat(), "amount_fen": 1})
    rows = client.get("/api/office/failed-attempts", headers=office["analyst"]).json["failed_attempts"]
    assert [(r["code"], r["verified"], r["partner_id"]) for r in rows] == [("pass_invalid", False, dining["id"])]
    assert rows[0]["staff_id"] and rows[0]["at"] and "subject_id" not in rows[0]
    day = (datetime.now(timezone.utc) + timedelta(days=2)).date().isoformat()
    assert client.get(f"/api/office/failed-attempts?from={day}", headers=office["analyst"]).json["failed_attempts"] == []
