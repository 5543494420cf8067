"""The numeric short code: asked for by a citizen, typed by a cashier, good once, online, while its
pass is valid; refused clearly when wrong, used or when Redis is down; guessing is rate-limited."""
from __future__ import annotations

import uuid
from datetime import datetime

import importlib

from sqlalchemy import select

from backend.extensions import db, redis_store
from backend.merchants.models import FailedAttempt, Redemption
from tests.merchants.conftest import shop, utc  # noqa: F401 (shop: the merchant fixture)

codec = importlib.import_module("backend.pass.codec")


def redeem_body(perk, **fields):
    return {"perk_id": perk, "client_id": str(uuid.uuid4()), "scanned_at": utc().isoformat(), "amount_fen": 10000,
            **fields}


def ask(client, auth_header, role="citizen", **body):
    return client.post("/api/pass/short-code", headers=auth_header(role), json=body)


def test_a_short_code_is_twelve_digits_valid_while_its_pass_is(client, auth_header, app):
    response = ask(client, auth_header)
    assert response.status_code == 201, response.json
    code, expires_at = response.json["short_code"], response.json["expires_at"]
    assert len(code) == 12 and code.isdigit() and set(response.json) == {"short_code", "expires_at"}
    with app.app_context():
        key = redis_store.key("short-code", code)
        ttl = redis_store.client.pttl(key)
        assert 0 < ttl <= app.config["PASS_TTL_SECONDS"] * 1000
        remaining = datetime.fromisoformat(expires_at).timestamp() - datetime.now().timestamp()
        assert abs(ttl / 1000 - remaining) < 3
    # The company representative gets the company's pass behind the code, as with POST /api/pass.
    company = ask(client, auth_header, "company", holder="company")
    assert company.status_code == 201
    with app.app_context():
        token = redis_store.client.get(redis_store.key("short-code", company.json["short_code"]))
    assert codec.decode_unverified(token)[0].kind == "company"
    assert ask(client, auth_header, "company", holder="person").json["code"] == "holder_not_bound"
    assert client.post("/api/pass/short-code", json={}).status_code == 401


def test_a_cashier_redeems_by_short_code_once(shop, client, auth_header):
    perk = shop.perk()
    code = ask(client, auth_header).json["short_code"]
    sent = redeem_body(perk, short_code=code)
    first = client.post("/api/redemptions", headers=shop.header(), json=sent)
    assert first.status_code == 201, first.json
    assert (first.json["tier"], first.json["holder_kind"], first.json["payable_fen"]) == ("good", "person", 9800)
    assert first.json["recent_visits"] == 0 and first.json["recent_minutes"] == 10
    assert len(first.json["holder_alias"]) == 6
    # A retry of the same scan gets the first answer, though the code is spent.
    again = client.post("/api/redemptions", headers=shop.header(), json=sent)
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    # The code again, as a new scan: spent.
    used = client.post("/api/redemptions", headers=shop.header(), json=redeem_body(perk, short_code=code))
    assert used.status_code == 400 and used.json["code"] == "short_code_invalid"
    # The same citizen, a new code, a minute later: redeemed, and the cashier is warned of the repeat.
    second = client.post("/api/redemptions", headers=shop.header(),
                         json=redeem_body(perk, short_code=ask(client, auth_header).json["short_code"]))
    assert second.status_code == 201 and second.json["recent_visits"] == 1
    assert second.json["holder_alias"] == first.json["holder_alias"]
    assert db.session.scalar(select(FailedAttempt.code).where(FailedAttempt.code == "short_code_invalid"))
    assert len(db.session.scalars(select(Redemption)).all()) == 2


def test_wrong_codes_and_bad_bodies_are_refused(shop, client, auth_header):
    perk = shop.perk()
    wrong = client.post("/api/redemptions", headers=shop.header(), json=redeem_body(perk, short_code="000000000000"))
    assert wrong.status_code == 400 and wrong.json["code"] == "short_code_invalid"
    code = ask(client, auth_header).json["short_code"]
    token = shop.pass_for(shop.holder())
    for bad in ({"short_code": code, "token": token}, {}, {"short_code": "12345"}, {"short_code": code, "queued": True}):
        response = client.post("/api/redemptions", headers=shop.header(), json=redeem_body(perk, **bad))
        assert response.status_code == 422 and response.json["code"] == "validation_error", bad
    # None of those spent the code.
    ok = client.post("/api/redemptions", headers=shop.header(), json=redeem_body(perk, short_code=code))
    assert ok.status_code == 201


def test_failed_look_ups_are_limited_per_device_and_scans_go_on(shop, make_app, auth_header):
    client = make_app(RATELIMIT_SHORT_CODE_PER_PRINCIPAL="3/minute").test_client()
    perk = shop.perk()
    header = shop.header(device=0)
    responses = [client.post("/api/redemptions", headers=header, json=redeem_body(perk, short_code=f"{n:012d}"))
                 for n in range(5)]
    assert [response.json["code"] for response in responses] == ["short_code_invalid"] * 3 + ["rate_limited"] * 2
    refused = responses[-1]  # says how long to wait, as every 429 does
    assert 1 <= refused.json["retry_after"] <= 60 and refused.headers["Retry-After"] == str(refused.json["retry_after"])
    # Another device is not held back, nor is this one's scanning of passes.
    other = client.post("/api/redemptions", headers=shop.header(device=1),
                        json=redeem_body(perk, short_code="999999999999"))
    assert other.json["code"] == "short_code_invalid"
    scanned = client.post("/api/redemptions", headers=header, json=redeem_body(perk, token=shop.pass_for(shop.holder())))
    assert scanned.status_code == 201


def test_with_redis_down_short_codes_are_refused_clearly(shop, make_app, auth_header):
    down = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    asked = down.post("/api/pass/short-code", headers=auth_header("citizen"), json={})
    assert asked.status_code == 503 and asked.json["code"] == "short_code_unavailable"
    perk = shop.perk()
    typed = down.post("/api/redemptions", headers=shop.header(), json=redeem_body(perk, short_code="123456789012"))
    assert typed.status_code == 503 and typed.json["code"] == "short_code_unavailable"
    # The QR code still works.
    scanned = down.post("/api/redemptions", headers=shop.header(), json=redeem_body(perk, token=shop.pass_for(shop.holder())))
    assert scanned.status_code == 201


def test_the_repeat_check_counts_a_holders_recent_visits_only(shop, client):
    perk = shop.perk(kind="free_entry", title="免费入园")
    holder = shop.holder()
    check = lambda token: client.post("/api/redemptions/check", headers=shop.header(), json={"token": token})
    assert check(shop.pass_for(holder)).json == {"recent_visits": 0, "recent_minutes": 10}
    for _ in range(2):
        assert client.post("/api/redemptions", headers=shop.header(),
                           json=redeem_body(perk, token=shop.pass_for(holder))).status_code == 201
    assert check(shop.pass_for(holder)).json["recent_visits"] == 2
    assert check(shop.pass_for(shop.holder())).json["recent_visits"] == 0
    assert check("XYM:nonsense").json["code"] == "pass_invalid"
