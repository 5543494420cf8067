"""The thin end-to-end slice through HTTP: issue a pass, redeem it once, see it in the statistics."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


def dining_perk(client) -> dict:
    partner = next(p for p in client.get("/api/partners").json["partners"] if p["name"] == "辣盆盆小龙虾饭店")
    return partner["perks"][0]


def test_health_reports_database_and_redis(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "ok"}


def test_health_says_redis_down_but_still_serves(make_app):
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    response = broken.test_client().get("/api/health")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "redis": "down"}


def test_partner_directory_lists_the_nine_zhaodong_partners(client):
    partners = client.get("/api/partners").json["partners"]
    names = {p["name"] for p in partners}
    assert {"辣盆盆小龙虾饭店", "肇东市公证处", "大卫美术教育", "鸿泰猪病医院", "博爱宠物医院", "明宇养殖场",
            "焯艺室内外装修服务队"} <= names
    dining = dining_perk(client)
    assert dining["kind"] == "discount" and dining["discount_permille"] == 980


def test_issue_redeem_once_and_count(client, auth_header):
    issued = client.post("/api/pass", headers=auth_header("citizen"), json={})
    assert issued.status_code == 201
    assert issued.json["holder_kind"] == "person" and issued.json["tier"] == "good"
    perk = dining_perk(client)
    body = {"token": issued.json["token"], "perk_id": perk["id"], "client_id": str(uuid.uuid4()),
            "scanned_at": now_iso(), "amount_fen": 10000}
    first = client.post("/api/redemptions", headers=auth_header("cashier"), json=body)
    assert first.status_code == 201
    assert (first.json["amount_fen"], first.json["payable_fen"], first.json["discount_fen"]) == (10000, 9800, 200)
    again = client.post("/api/redemptions", headers=auth_header("cashier"), json=body)
    assert again.status_code == 200 and again.json == first.json
    other = client.post("/api/redemptions", headers=auth_header("cashier"), json={**body, "client_id": str(uuid.uuid4())})
    assert other.status_code == 409 and other.json["code"] == "pass_already_used"
    assert other.mimetype == "application/problem+json"
    rows = client.get("/api/office/stats?group_by=scenario", headers=auth_header("office-analyst")).json["rows"]
    assert rows == [{"key": "信易+餐饮", "label": "信易+餐饮", "redemptions": 1, "amount_fen": 10000, "discount_fen": 200,
                     "offline": 0, "beneficiaries": None}]


def test_blacklisted_citizen_gets_no_pass(client, auth_header):
    response = client.post("/api/pass", headers=auth_header("citizen-blacklisted"), json={})
    assert response.status_code == 403
    assert response.json["code"] == "holder_blacklisted"
    assert response.json["message"]


def test_company_representative_gets_a_company_pass(client, auth_header):
    response = client.post("/api/pass", headers=auth_header("company"), json={})
    assert response.status_code == 201 and response.json["holder_kind"] == "company"


def test_api_errors_are_problem_json_never_html(client, auth_header):
    missing = client.get("/api/no-such-route")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert missing.json["code"] == "not_found"
    unauthenticated = client.post("/api/pass", json={})
    assert unauthenticated.status_code == 401 and unauthenticated.json["code"] == "unauthorized"
    invalid = client.post("/api/redemptions", headers=auth_header("cashier"), json={"token": 5})
    assert invalid.status_code == 422 and invalid.json["code"] == "validation_error"
    wrong_role = client.get("/api/office/stats", headers=auth_header("cashier"))
    assert wrong_role.status_code == 403 and wrong_role.json["code"] == "forbidden"


def test_openapi_document_is_served(client):
    spec = client.get("/api/openapi.json").json
    assert "/api/redemptions" in spec["paths"] and "/api/pass" in spec["paths"]


def test_citizen_page_is_chinese_and_phone_sized(client):
    page = client.get("/m/").get_data(as_text=True)
    assert 'lang="zh-CN"' in page and "width=device-width" in page and "信用码" in page
