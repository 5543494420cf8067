"""Redemption through HTTP: the contract's shapes, the merchant's view, voids, the fast path and
Redis being down."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select

from backend.changefeed import current_feed
from backend.extensions import db
from tests.helpers import statements_sent, utc, wait_until
from backend.merchants.models import FailedAttempt, Redemption
from backend.merchants.schemas import RedemptionOut


CONTRACT_FIELDS = {"id", "status", "perk_id", "tier", "tier_name", "amount_fen", "payable_fen", "discount_fen",
                   "quota", "offline", "scanned_at", "recorded_at", "client_id"}


def body(token, perk, **fields):
    return {"token": token, "perk_id": perk, "client_id": str(uuid.uuid4()), "scanned_at": utc().isoformat(),
            "amount_fen": 10000, **fields}


def redemptions() -> int:
    return db.session.scalar(select(func.count()).select_from(Redemption))


def test_redeem_answers_with_the_contract_and_replays_the_first_answer(shop, client):
    perk = shop.perk()
    sent = body(shop.pass_for(shop.holder(tier_level=3)), perk, amount_fen=3333)
    first = client.post("/api/redemptions", headers=shop.header(), json=sent)
    assert first.status_code == 201, first.json
    assert CONTRACT_FIELDS <= set(first.json)
    # Sent as built (backend/responses.py): exactly what the documented schema says.
    assert set(first.json) == set(RedemptionOut().fields) and RedemptionOut().validate(first.json) == {}
    assert (first.json["status"], first.json["tier"], first.json["tier_name"]) == ("recorded", "excellent", "诚信优秀")
    assert (first.json["amount_fen"], first.json["payable_fen"], first.json["discount_fen"]) == (3333, 3266, 67)
    assert first.json["offline"] is False and first.json["client_id"] == sent["client_id"]
    again = client.post("/api/redemptions", headers=shop.header(device=0), json=sent)
    assert again.status_code == 200 and again.json == first.json
    used = client.post("/api/redemptions", headers=shop.header(), json={**sent, "client_id": str(uuid.uuid4())})
    assert used.status_code == 409 and used.json["code"] == "pass_already_used"
    assert used.mimetype == "application/problem+json" and "conflict_id" not in used.json


def test_green_channel_without_amount_and_device_tokens(shop, client):
    perk = shop.perk(kind="green_channel", title="绿色通道")
    sent = body(shop.pass_for(shop.holder()), perk)
    del sent["amount_fen"]
    response = client.post("/api/redemptions", headers=shop.header(device=1), json=sent)
    assert response.status_code == 201 and response.json["amount_fen"] is None
    assert db.session.scalar(select(Redemption.device_id)) == shop.devices[1].id


def test_refusals_are_problem_json_with_stable_codes(shop, client):
    perk = shop.perk()
    holder = shop.holder()
    cases = [
        (body("XYM:GARBAGE", perk), 400, "pass_invalid"),
        (body(shop.pass_for(holder), perk, amount_fen=None), 422, "amount_required"),
        (body(shop.pass_for(holder, at=utc(hours=-30)), perk, scanned_at=utc(hours=-30).isoformat(), queued=True),
         409, "offline_too_late"),
        (body(shop.pass_for(holder), perk, client_id="not-a-uuid"), 422, "validation_error"),
    ]
    for sent, status, code in cases:
        response = client.post("/api/redemptions", headers=shop.header(), json=sent)
        assert (response.status_code, response.json["code"]) == (status, code), sent
        assert response.json["message"]


def test_malformed_redemption_requests_are_refused_naming_the_field_and_record_nothing(shop, client):
    perk, holder = shop.perk(), shop.holder()
    token = shop.pass_for(holder)
    naive = utc().replace(tzinfo=None).isoformat()
    cases = [
        ({"token": ""}, "token"), ({"token": "X" * 4097}, "token"), ({"token": 12}, "token"),
        ({"perk_id": str(perk)}, "perk_id"), ({"perk_id": True}, "perk_id"), ({"perk_id": float(perk)}, "perk_id"),
        ({"client_id": "not-a-uuid"}, "client_id"), ({"client_id": 7}, "client_id"),
        ({"scanned_at": naive}, "scanned_at"), ({"scanned_at": 1_790_000_000}, "scanned_at"),
        ({"scanned_at": "yesterday"}, "scanned_at"),
        # At the edges of the calendar: their UTC moments fall outside it (issue 14).
        ({"scanned_at": "0001-01-01T00:00:00+14:00"}, "scanned_at"), ({"scanned_at": "9999-12-31T23:59:59-14:00"}, "scanned_at"),
        ({"amount_fen": 0}, "amount_fen"), ({"amount_fen": 10_000_000_01}, "amount_fen"),
        ({"amount_fen": 99.5}, "amount_fen"), ({"amount_fen": "100"}, "amount_fen"),
        ({"queued": "perhaps"}, "queued"), ({"surprise": 1}, "surprise"),
    ]
    for change, field in cases:
        sent = {**body(token, perk), **change}
        response = client.post("/api/redemptions", headers=shop.header(), json=sent)
        assert (response.status_code, response.json["code"]) == (422, "validation_error"), change
        assert response.mimetype == "application/problem+json" and response.json["message"] == "请求内容不正确"
        assert list(response.json["errors"]["json"]) == [field], response.json
    for missing in ("token", "perk_id", "client_id", "scanned_at"):
        sent = body(token, perk)
        del sent[missing]
        response = client.post("/api/redemptions", headers=shop.header(), json=sent)
        assert response.status_code == 422 and list(response.json["errors"]["json"]) == [missing]
    for raw in (b"{not json", b"[1, 2]", b'"token"'):
        response = client.post("/api/redemptions", headers={**shop.header(), "Content-Type": "application/json"},
                               data=raw)
        assert response.status_code in (400, 422) and response.json["code"] in ("bad_request", "validation_error")
        assert response.mimetype == "application/problem+json"
    assert redemptions() == 0
    assert db.session.scalar(select(func.count()).select_from(FailedAttempt)) == 0  # not even a refusal
    fine = client.post("/api/redemptions", headers=shop.header(), json=body(token, perk, queued="true"))
    assert fine.status_code == 201 and redemptions() == 1


def test_the_second_device_of_an_offline_double_gets_a_conflict_id(shop, client, auth_header):
    perk, holder = shop.perk(), shop.holder()
    scanned = utc(minutes=-20)
    token = shop.pass_for(holder, at=scanned)
    one = client.post("/api/redemptions", headers=shop.header(device=0),
                      json=body(token, perk, scanned_at=scanned.isoformat(), queued=True))
    assert one.status_code == 201 and one.json["offline"] is True
    sent = body(token, perk, scanned_at=scanned.isoformat(), queued=True)
    two = client.post("/api/redemptions", headers=shop.header(device=1), json=sent)
    assert two.status_code == 409 and two.json["code"] == "pass_already_used" and two.json["conflict_id"]
    assert client.post("/api/redemptions", headers=shop.header(device=1), json=sent).json == two.json
    listed = client.get("/api/office/redemption-conflicts", headers=auth_header("office-analyst")).json["conflicts"]
    assert [(c["id"], c["redemption_id"], c["device_id"], c["first_device_id"]) for c in listed] == [
        (two.json["conflict_id"], one.json["id"], shop.devices[1].id, shop.devices[0].id)]
    resolved = client.post(f"/api/office/redemption-conflicts/{listed[0]['id']}/resolve",
                           headers=auth_header("office-admin"), json={"resolution": "已联系商户，按一次计"})
    assert resolved.status_code == 200 and resolved.json["resolved_at"]
    assert client.get("/api/office/redemption-conflicts", headers=auth_header("office-analyst")).json["conflicts"] == []
    assert len(client.get("/api/office/redemption-conflicts?all=true",
                          headers=auth_header("office-analyst")).json["conflicts"]) == 1


def test_merchant_history_shows_aliases_not_identities_and_only_its_own(shop, client, auth_header):
    perk, green = shop.perk(), shop.perk(kind="green_channel", title="绿色通道")
    regular, other = shop.holder(), shop.holder()
    for holder, target, amount in ((regular, perk, 10000), (regular, perk, 2000), (other, green, None)):
        sent = body(shop.pass_for(holder), target, amount_fen=amount)
        assert client.post("/api/redemptions", headers=shop.header(), json=sent).status_code == 201
    today = client.get("/api/redemptions", headers=shop.header(role="merchant_admin"))
    assert today.status_code == 200
    rows = today.json["redemptions"]
    assert today.json["totals"] == {"count": 3, "amount_fen": 12000, "discount_fen": 240}
    assert {row["holder_alias"] for row in rows[1:]} == {rows[2]["holder_alias"]}  # the regular, twice
    assert rows[0]["holder_alias"] != rows[1]["holder_alias"] and len(rows[0]["holder_alias"]) == 6
    for row in rows:
        assert CONTRACT_FIELDS | {"holder_alias", "voidable_until"} <= set(row)
        assert not {"subject_id", "pass_id", "token", "holder_id"} & set(row)
    day = today.json["day"]
    only_green = client.get(f"/api/redemptions?day={day}&perk_id={green}", headers=shop.header()).json
    assert len(only_green["redemptions"]) == 1 and only_green["totals"]["amount_fen"] == 0
    assert client.get("/api/redemptions?day=2001-01-01", headers=shop.header()).json["redemptions"] == []
    lapenpen = client.get(f"/api/redemptions?day={day}", headers=auth_header("cashier")).json
    assert lapenpen["redemptions"] == []  # another merchant sees none of these
    assert client.get("/api/redemptions", headers=auth_header("office-admin")).status_code == 403


def test_voids_through_http(shop, client, auth_header):
    perk = shop.perk()
    made = [client.post("/api/redemptions", headers=shop.header(), json=body(shop.pass_for(shop.holder()), perk)).json
            for _ in range(2)]
    voided = client.post(f"/api/redemptions/{made[0]['id']}/void", headers=shop.header(), json={"reason": "按错了"})
    assert voided.status_code == 200 and voided.json["status"] == "voided"
    again = client.post(f"/api/redemptions/{made[0]['id']}/void", headers=shop.header(), json={})
    assert (again.status_code, again.json["code"]) == (409, "already_voided")
    foreign = client.post(f"/api/redemptions/{made[1]['id']}/void", headers=auth_header("cashier"), json={})
    assert foreign.status_code == 404
    db.session.execute(db.text("update redemptions set recorded_at = :t where id = :id"),
                       {"t": utc(minutes=-16).replace(tzinfo=None), "id": made[1]["id"]})
    db.session.commit()
    late = client.post(f"/api/redemptions/{made[1]['id']}/void", headers=shop.header(), json={})
    assert (late.status_code, late.json["code"]) == (409, "void_window_closed")
    no_reason = client.post(f"/api/office/redemptions/{made[1]['id']}/void", headers=auth_header("office-admin"),
                            json={})
    assert no_reason.status_code == 422
    office = client.post(f"/api/office/redemptions/{made[1]['id']}/void", headers=auth_header("office-admin"),
                         json={"reason": "商户来函申请撤销"})
    assert office.status_code == 200 and office.json["void_reason"] == "商户来函申请撤销"
    assert client.post(f"/api/office/redemptions/{made[1]['id']}/void", headers=auth_header("office-analyst"),
                       json={"reason": "x"}).status_code == 403
    rows = client.get("/api/redemptions", headers=shop.header()).json
    assert rows["totals"]["count"] == 0 and all(r["voidable_until"] is None for r in rows["redemptions"])


# -- cost and Redis ----------------------------------------------------------------------------------

def test_a_redemption_costs_one_statement_no_redis_and_a_replay_writes_nothing(shop, client, app, redis_calls):
    perk = shop.perk(limit_per_holder_per_day=2, kind="free_entry", title="免费入园")
    token = shop.pass_for(shop.holder())
    wait_until(lambda: current_feed().synced)
    warm = client.post("/api/redemptions", headers=shop.header(), json=body(shop.pass_for(shop.holder()), perk))
    assert warm.status_code == 201  # the first request at a perk reads its rules (and tier names) into memory
    header, sent = shop.header(), body(token, perk)
    redis_calls.clear()
    with statements_sent(db.engine, first_word=True) as seen:
        assert client.post("/api/redemptions", headers=header, json=sent).status_code == 201
    # A holder never seen before: one insert that also checks the holder's standing; autocommit.
    assert seen == ["INSERT"], seen
    assert redis_calls == []  # the session check and the generations come from the change feed
    replay = client.post("/api/redemptions", headers=shop.header(), json=body(token, perk))
    assert replay.status_code == 409 and replay.json["code"] == "pass_already_used"
    assert redemptions() == 2


def test_redemption_works_and_stays_correct_with_redis_unreachable(shop, make_app):
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    perk = shop.perk(limit_per_holder_per_day=1, kind="free_entry", title="免费入园")
    holder = shop.holder()
    sent = body(shop.pass_for(holder), perk)
    first = down.post("/api/redemptions", headers=shop.header(), json=sent)
    assert first.status_code == 201, first.json
    assert down.post("/api/redemptions", headers=shop.header(), json=sent).json == first.json
    replay = down.post("/api/redemptions", headers=shop.header(), json={**sent, "client_id": str(uuid.uuid4())})
    assert replay.json["code"] == "pass_already_used"
    limit = down.post("/api/redemptions", headers=shop.header(), json=body(shop.pass_for(holder), perk))
    assert limit.json["code"] == "limit_reached"
    assert redemptions() == 1
