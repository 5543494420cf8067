"""The office edits the city's reference data on screen (issue 15 item 2): the tier names and ladder
with the city file's own rules, every field of a perk including its time-of-day windows, and partners
(unique names within an area, hours, area, an exit with its date and reason kept for 公示)."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from backend.audit import AuditEntry
from backend.changefeed import current_feed
from backend.city.models import Area
from backend.extensions import db
from backend.timeutil import SHANGHAI
from tests.helpers import Phone, wait_until
from tests.office.test_catalog_api import redeem

ZHAODONG_LADDER = {
    "person": {"points_at_least": [[1050, 1], [1100, 2], [1150, 3]], "red_list": 4},
    "company": {"rating_at_least": [["B", 1], ["A", 2], ["AA", 3]], "tax_grade_a": 2, "red_list": 4},
}


@pytest.fixture
def ladder(client, office):
    """The ladder as the test found it, put back afterwards (tiers and rules are reference data)."""
    original = client.get("/api/office/ladder", headers=office["analyst"]).json
    yield original
    restored = client.put("/api/office/ladder", headers=office["admin"],
                          json={"tiers": original["tiers"], "ladder": original["ladder"]})
    assert restored.status_code == 200, restored.json


def test_the_ladder_reads_in_the_city_files_words(client, ladder):
    assert ladder["ladder"] == ZHAODONG_LADDER
    assert [(t["level"], t["code"], t["name"]) for t in ladder["tiers"]] == [
        (1, "basic", "守信"), (2, "good", "诚信良好"), (3, "excellent", "诚信优秀"), (4, "red_list", "守信红名单")]


def test_a_ladder_change_reaches_the_next_pass_and_is_audited(app, client, office, ladder):
    phone = Phone(app)
    assert phone.issue().json["tier"] == "good"  # the demo citizen has 1,120 points
    tiers = [dict(t, name="诚信优秀（银）") if t["code"] == "excellent" else t for t in ladder["tiers"]]
    person = {"points_at_least": [[1050, 1], [1100, 3]], "red_list": 4}
    saved = client.put("/api/office/ladder", headers=office["admin"],
                       json={"tiers": tiers, "ladder": {**ZHAODONG_LADDER, "person": person}})
    assert saved.status_code == 200, saved.json
    assert saved.json["ladder"]["person"] == person and saved.json["changes"]
    issued = phone.issue().json
    assert (issued["tier"], issued["tier_name"]) == ("excellent", "诚信优秀（银）")
    assert client.get("/api/pass/keys").json["tiers"]["excellent"] == "诚信优秀（银）"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "ladder.update")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.actor.startswith("office") and entry.detail["source"] == "office"
    again = client.put("/api/office/ladder", headers=office["admin"],
                       json={"tiers": tiers, "ladder": {**ZHAODONG_LADDER, "person": person}})
    assert again.json["changes"] == []  # idempotent, as `flask city load`


@pytest.mark.parametrize("change, words", [
    ({"company": {"rating_at_least": [["E", 1]]}}, "企业等级阶梯的信易评价“E”不是 AAA/AA/A/B/C/D 之一"),
    ({"person": {"points_at_least": [[1050, 9]]}}, "个人等级阶梯用到了未定义的等级 9"),
    ({"person": {"points_at_least": [[-5, 1]]}}, "个人等级阶梯的积分下限须为 0 到 100000 之间的整数"),
    ({"pet": {"red_list": 1}}, "主体类型只能是 person（个人）或 company（企业）"),
    ({"person": {"tax_grade_a": 1}}, "个人等级阶梯中有不认识的字段“tax_grade_a”"),
])
def test_a_bad_ladder_gets_the_city_files_chinese_errors_and_changes_nothing(client, office, ladder, change, words):
    response = client.put("/api/office/ladder", headers=office["admin"],
                          json={"tiers": ladder["tiers"], "ladder": {**ZHAODONG_LADDER, **change}})
    assert response.status_code == 422 and response.json["code"] == "validation_error"
    assert any(words in error for error in response.json["errors"]["json"]["ladder"]), response.json
    assert "第" not in response.json["message"]  # no file lines on a screen
    assert client.get("/api/office/ladder", headers=office["analyst"]).json == ladder


def test_tier_codes_stay_unique(client, office, ladder):
    tiers = [dict(t, code="good") if t["level"] == 1 else t for t in ladder["tiers"]]
    response = client.put("/api/office/ladder", headers=office["admin"],
                          json={"tiers": tiers, "ladder": ladder["ladder"]})
    assert response.status_code == 422
    assert client.get("/api/office/ladder", headers=office["analyst"]).json == ladder


def test_the_analyst_reads_the_ladder_but_may_not_change_it(client, office, ladder):
    response = client.put("/api/office/ladder", headers=office["analyst"], json={"tiers": ladder["tiers"],
                                                                                 "ladder": ladder["ladder"]})
    assert response.status_code == 403


# -- perks: time-of-day windows --------------------------------------------------------------------

def _local_window(*, starts_in_minutes: int, minutes: int) -> str:
    start = datetime.now(SHANGHAI) + timedelta(minutes=starts_in_minutes)
    return f"{start:%H:%M}-{start + timedelta(minutes=minutes):%H:%M}"


def test_perk_windows_are_edited_shown_and_enforced(client, office, auth_header):
    dining = next(p for p in client.get("/api/partners").json["partners"] if p["name"] == "辣盆盆小龙虾饭店")
    perk_id = dining["perks"][0]["id"]
    later = _local_window(starts_in_minutes=120, minutes=60)
    try:
        changed = client.patch(f"/api/office/perks/{perk_id}", headers=office["admin"], json={"time_windows": [later]})
        assert changed.status_code == 200 and changed.json["time_windows"] == [later]
        shown = {p["id"]: p for p in client.get("/api/partners").json["partners"]}[dining["id"]]["perks"][0]
        assert shown["time_windows"] == [later]
        refused = redeem(client, auth_header("cashier"), perk_id)
        assert refused.status_code == 409 and refused.json["code"] == "perk_outside_hours", refused.json
        assert later.replace("-", "–") in refused.json["message"]
        now = _local_window(starts_in_minutes=-30, minutes=60)
        client.patch(f"/api/office/perks/{perk_id}", headers=office["admin"], json={"time_windows": [now]})
        assert redeem(client, auth_header("cashier"), perk_id).status_code == 201
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "perk.update")
                                   .order_by(AuditEntry.id.desc())).first()
        assert entry.detail == {"before": {"time_windows": [later]}, "after": {"time_windows": [now]}}
    finally:
        client.patch(f"/api/office/perks/{perk_id}", headers=office["admin"], json={"time_windows": None})


def test_a_window_that_cannot_be_used_is_refused_with_its_field(client, office):
    dining = next(p for p in client.get("/api/partners").json["partners"] if p["name"] == "辣盆盆小龙虾饭店")
    response = client.patch(f"/api/office/perks/{dining['perks'][0]['id']}", headers=office["admin"],
                            json={"time_windows": ["09:00-12:00", "11:00-13:00"]})
    assert response.status_code == 422 and response.json["field"] == "time_windows"
    assert "重叠" in response.json["message"]


def test_the_seeded_livestock_vet_discount_has_the_annexs_hours(client):
    vet = next(p for p in client.get("/api/partners").json["partners"] if p["name"] == "鸿泰猪病医院")
    assert vet["perks"][0]["time_windows"] == ["09:00-11:30", "14:00-17:00"]
    assert vet["hours"] == "每天 08:00-17:30"


# -- partners: names within an area, details, exit --------------------------------------------------

def _areas() -> dict[str, int]:
    return {area.name: area.id for area in db.session.scalars(select(Area))}


def test_partner_names_are_unique_within_an_area(client, office):
    areas = _areas()
    first = client.post("/api/office/partners", headers=office["admin"], json={
        "name": "松辽便利店", "scenario_code": "dining", "area_id": areas["松辽社区"]})
    assert first.status_code == 201 and first.json["area_id"] == areas["松辽社区"]
    twin = client.post("/api/office/partners", headers=office["admin"], json={
        "name": "松辽便利店", "scenario_code": "dining", "area_id": areas["松辽社区"]})
    assert twin.status_code == 409 and twin.json["code"] == "partner_name_taken" and twin.json["field"] == "name"
    elsewhere = client.post("/api/office/partners", headers=office["admin"], json={
        "name": "松辽便利店", "scenario_code": "dining", "area_id": areas["西园街道"]})
    assert elsewhere.status_code == 201
    moved = client.patch(f"/api/office/partners/{elsewhere.json['id']}", headers=office["admin"],
                         json={"area_id": areas["松辽社区"]})
    assert moved.status_code == 409 and moved.json["code"] == "partner_name_taken"
    nowhere = client.post("/api/office/partners", headers=office["admin"], json={
        "name": "辣盆盆小龙虾饭店", "scenario_code": "dining"})
    assert nowhere.status_code == 201  # the seeded one is in 松辽社区
    unknown = client.post("/api/office/partners", headers=office["admin"], json={
        "name": "无区域", "scenario_code": "dining", "area_id": 999_999})
    assert unknown.status_code == 422 and unknown.json["field"] == "area_id"


def test_address_hours_and_area_are_editable_and_audited(client, office):
    areas = _areas()
    made = client.post("/api/office/partners", headers=office["admin"], json={
        "name": "西园书店", "scenario_code": "dining", "address": "旧址", "hours": "09:00-18:00"}).json
    changed = client.patch(f"/api/office/partners/{made['id']}", headers=office["admin"], json={
        "address": "肇东市西园路 8 号", "hours": "每天 08:30-20:00", "area_id": areas["西园街道"]})
    assert changed.status_code == 200
    assert (changed.json["address"], changed.json["hours"], changed.json["area_id"]) == (
        "肇东市西园路 8 号", "每天 08:30-20:00", areas["西园街道"])
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "partner.update")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.detail["after"] == {"address": "肇东市西园路 8 号", "hours": "每天 08:30-20:00",
                                     "area_id": areas["西园街道"]}


def test_a_partner_exits_with_a_reason_and_date_and_stays_in_the_gongshi_history(client, office, auth_header):
    made = client.post("/api/office/partners", headers=office["admin"], json={
        "name": "退出测试商户", "scenario_code": "dining"}).json
    perk = client.post(f"/api/office/partners/{made['id']}/perks", headers=office["admin"], json={
        "kind": "green_channel", "title": "优先办理"}).json
    left = client.post(f"/api/office/partners/{made['id']}/exit", headers=office["admin"],
                       json={"reason": "合作期满，不再续约", "left_on": "2026-11-30"})
    assert left.status_code == 200
    assert (left.json["active"], left.json["left_on"], left.json["exit_reason"]) == (False, "2026-11-30", "合作期满，不再续约")
    directory = client.get("/api/partners").json
    assert made["id"] not in {p["id"] for p in directory["partners"]}
    assert {"id": made["id"], "name": "退出测试商户", "scenario": "信易+餐饮", "left_on": "2026-11-30",
            "exit_reason": "合作期满，不再续约"} in directory["former"]
    office_list = client.get("/api/office/partners", headers=office["analyst"]).json["partners"]
    assert made["id"] in {p["id"] for p in office_list}
    again = client.post(f"/api/office/partners/{made['id']}/exit", headers=office["admin"], json={"reason": "再次"})
    assert again.status_code == 409 and again.json["code"] == "conflict"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "partner.exit")).one()
    assert entry.detail == {"name": "退出测试商户", "left_on": "2026-11-30", "reason": "合作期满，不再续约"}
    back = client.patch(f"/api/office/partners/{made['id']}", headers=office["admin"], json={"active": True})
    assert back.json["left_on"] is None and back.json["active"] is True
    assert made["id"] not in {p["id"] for p in client.get("/api/partners").json["former"]}
    assert perk["id"] in {k["id"] for k in back.json["perks"]}


def test_an_exit_without_a_date_is_today_in_beijing(client, office):
    made = client.post("/api/office/partners", headers=office["admin"], json={
        "name": "今日退出商户", "scenario_code": "dining"}).json
    left = client.post(f"/api/office/partners/{made['id']}/exit", headers=office["admin"], json={"reason": "商户注销"})
    assert left.json["left_on"] == datetime.now(timezone.utc).astimezone(SHANGHAI).date().isoformat()
    blank = client.post("/api/office/partners", headers=office["admin"],
                        json={"name": "空原因", "scenario_code": "dining"}).json
    response = client.post(f"/api/office/partners/{blank['id']}/exit", headers=office["admin"], json={"reason": " "})
    assert response.status_code == 422 and response.json["field"] == "reason"


# -- the edits reach every worker ------------------------------------------------------------------

def test_a_ladder_change_reaches_another_worker_that_remembers_the_old_standing(app, make_app, client, office, ladder):
    other = Phone(make_app())  # another app object: another worker with its own caches and change feed
    with other.app.app_context():
        wait_until(lambda: current_feed().synced, what="the other worker's feed")
    assert other.issue().json["tier"] == "good"  # its standing is now in the other worker's memory
    person = {"points_at_least": [[1050, 1], [1100, 3]], "red_list": 4}
    saved = client.put("/api/office/ladder", headers=office["admin"],
                       json={"tiers": ladder["tiers"], "ladder": {**ZHAODONG_LADDER, "person": person}})
    assert saved.status_code == 200
    # Seconds, not the five minutes its cache would otherwise keep the old standing (a loaded machine is slow).
    wait_until(lambda: other.issue().json["tier"] == "excellent", seconds=10, what="the other worker's standing")


def test_a_perk_window_change_reaches_another_worker_that_remembers_the_perk(app, make_app, client, office):
    other = make_app()
    with other.app_context():
        wait_until(lambda: current_feed().synced, what="the other worker's feed")
    cashier = Phone(other).header("cashier")
    dining = next(p for p in client.get("/api/partners").json["partners"] if p["name"] == "辣盆盆小龙虾饭店")
    perk_id = dining["perks"][0]["id"]
    other_client = other.test_client()
    assert redeem(other_client, cashier, perk_id).status_code == 201  # the perk's facts now in its memory
    try:
        later = _local_window(starts_in_minutes=120, minutes=60)
        client.patch(f"/api/office/perks/{perk_id}", headers=office["admin"], json={"time_windows": [later]})
        def refused_outside_hours() -> bool:
            time.sleep(0.05)  # each try is a refused redemption, recorded: not hundreds of them
            return redeem(other_client, cashier, perk_id).json["code"] == "perk_outside_hours"

        wait_until(refused_outside_hours, seconds=10, what="the other worker's perk rules")
    finally:
        client.patch(f"/api/office/perks/{perk_id}", headers=office["admin"], json={"time_windows": None})
