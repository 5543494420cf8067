"""My credit, my history, objections and the office's answers, as a citizen and a clerk use them."""
from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import func, select

from backend.auth.models import CitizenAccount
from backend.auth.privacy import NOTICE_VERSION
from backend.auth.service import Principal, issue_access_token
from backend.extensions import db
from backend.recourse.models import Objection
from tests.merchants.conftest import Shop, utc


@pytest.fixture
def shop(app):
    with app.app_context():
        made = Shop(app)
        yield made
        db.session.rollback()
        db.session.execute(db.delete(Objection))
        db.session.execute(db.delete(CitizenAccount).where(CitizenAccount.subject_id.in_(made.subject_ids)))
        db.session.commit()
        made.remove()


def citizen_for(app, subject_id: int | None) -> dict:
    account = CitizenAccount(phone=f"136{uuid.uuid4().int % 10**8:08d}", subject_id=subject_id,
                             privacy_version=NOTICE_VERSION)
    db.session.add(account)
    db.session.commit()
    token = issue_access_token(secret=app.config["SECRET_KEY"], minutes=15,
                               principal=Principal(kind="citizen", id=account.id, role="citizen"))
    return {"Authorization": f"Bearer {token}"}


def test_an_eligible_citizen_sees_the_tier_the_rule_met_and_what_it_unlocks(app, shop, client):
    subject = shop.holder(tier_level=2, score=1120)
    answer = client.get("/api/me/credit", headers=citizen_for(app, subject))
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert (body["holder_kind"], body["tier"], body["tier_name"], body["eligible"], body["black_listed"]) == \
        ("person", "good", "诚信良好", True, False)
    assert any("诚信积分 1120 分，达到“诚信良好”所需的 1100 分" in reason for reason in body["reasons"])
    assert any("未达到“诚信优秀”" in reason for reason in body["reasons"])
    assert any(perk["partner"] == "辣盆盆小龙虾饭店" for perk in body["perks"])
    assert [route["kind"] for route in body["routes"]] == ["objection"]


def test_a_black_listed_citizen_is_told_which_list_and_the_ways_out(app, shop, client):
    subject = shop.holder(tier_level=0, score=1120, black_listed=True)
    body = client.get("/api/me/credit", headers=citizen_for(app, subject)).json
    assert body["eligible"] is False and body["black_listed"] is True and body["perks"] == []
    assert "失信黑名单" in body["reasons"][0] and "信用办" in body["reasons"][0]
    assert [route["kind"] for route in body["routes"]] == ["repair", "objection"]
    assert "线上" in body["routes"][0]["text"] and "线下" in body["routes"][0]["text"]


def test_an_ineligible_citizen_sees_the_threshold_missed(app, shop, client):
    subject = shop.holder(tier_level=0, score=990)
    body = client.get("/api/me/credit", headers=citizen_for(app, subject)).json
    assert body["eligible"] is False and body["tier"] is None
    assert any("诚信积分 990 分，未达到“守信”所需的 1050 分" in reason for reason in body["reasons"])


def test_unbound_and_signed_out_citizens(app, shop, client):
    assert client.get("/api/me/credit", headers=citizen_for(app, None)).json["code"] == "holder_not_bound"
    assert client.get("/api/me/credit").status_code == 401
    assert client.get("/api/me/credit", headers=shop.header()).status_code == 403


def test_history_pages_through_the_holders_own_redemptions_only(app, shop, client):
    perk = shop.perk()
    mine, other = shop.holder(), shop.holder()
    for _ in range(23):
        shop.redeem(shop.pass_for(mine), perk)
    shop.redeem(shop.pass_for(other), perk)
    headers = citizen_for(app, mine)
    first = client.get("/api/me/redemptions", headers=headers).json
    assert len(first["items"]) == 20 and first["next"] == 2
    second = client.get("/api/me/redemptions", headers=headers, query_string={"page": 2}).json
    assert len(second["items"]) == 3 and second["next"] is None
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 23
    item = first["items"][0]
    assert (item["amount_fen"], item["payable_fen"], item["status"], item["holder_kind"]) == (10000, 9800, "recorded", "person")
    assert item["partner"].startswith("测试商户") and item["perk"] == "测试九八折"


def test_an_objection_is_answered_by_the_office_and_the_citizen_sees_the_answer(app, shop, client, token):
    perk = shop.perk()
    subject = shop.holder()
    outcome = shop.redeem(shop.pass_for(subject), perk)
    headers = citizen_for(app, subject)
    filed = client.post("/api/objections", headers=headers, json={
        "kind": "redemption", "text": "这笔消费我没有用信用码，请核实。", "redemption_id": outcome.redemption.id})
    assert filed.status_code == 201, filed.json
    assert filed.json["status"] == "submitted"
    due = datetime.fromisoformat(filed.json["due_at"].replace("Z", "+00:00"))
    # 7 working days: at least 9 calendar days later (a weekend at least), end of the day in Beijing
    assert 8 <= (due - utc()).total_seconds() / 86400 <= 30
    office = {"Authorization": f"Bearer {token('office-admin')}"}
    waiting = client.get("/api/office/objections", headers=office, query_string={"status": "submitted"}).json
    assert [o["id"] for o in waiting["objections"]] == [filed.json["id"]]
    assert waiting["objections"][0]["partner_id"] == shop.partner_id  # through its redemption
    answered = client.post(f"/api/office/objections/{filed.json['id']}/answer", headers=office,
                           json={"text": "经核实为收银员误操作，已撤销该笔核销。"})
    assert answered.status_code == 200 and answered.json["status"] == "closed"
    again = client.post(f"/api/office/objections/{filed.json['id']}/answer", headers=office, json={"text": "再答"})
    assert again.status_code == 409
    mine = client.get("/api/objections", headers=headers).json["objections"]
    assert mine[0]["answer"] == "经核实为收银员误操作，已撤销该笔核销。" and mine[0]["overdue"] is False
    analyst = {"Authorization": f"Bearer {token('office-analyst')}"}
    assert client.post(f"/api/office/objections/{filed.json['id']}/answer", headers=analyst,
                       json={"text": "x"}).status_code == 403


def test_an_objection_about_someone_elses_redemption_is_not_found_and_nothing_is_kept(app, shop, client):
    perk = shop.perk()
    outcome = shop.redeem(shop.pass_for(shop.holder()), perk)
    stranger = citizen_for(app, shop.holder())
    before = db.session.scalar(select(func.count()).select_from(Objection))
    answer = client.post("/api/objections", headers=stranger, json={
        "kind": "redemption", "text": "这不是我的核销记录吗？", "redemption_id": outcome.redemption.id})
    assert answer.status_code == 404 and answer.json["code"] == "not_found"
    for bad in ({"kind": "credit", "text": "短"}, {"kind": "other", "text": "我的积分算错了，请核实。"},
                {"kind": "redemption", "text": "没有选择核销记录的异议"}, {"kind": "credit"}):
        refused = client.post("/api/objections", headers=stranger, json=bad)
        assert refused.status_code == 422 and refused.json["code"] == "validation_error", bad
    assert db.session.scalar(select(func.count()).select_from(Objection)) == before


def test_a_complaint_and_a_credit_objection_need_no_redemption(app, shop, client):
    headers = citizen_for(app, shop.holder())
    assert client.post("/api/objections", headers=headers,
                       json={"kind": "credit", "text": "我的诚信积分与实际不符，请核查。"}).status_code == 201
    assert client.post("/api/objections", headers=headers,
                       json={"kind": "complaint", "text": "店员拒绝按九八折结账。", "partner_id": shop.partner_id}
                       ).status_code == 201
    assert [o["kind"] for o in client.get("/api/objections", headers=headers).json["objections"]] == \
        ["complaint", "credit"]
