"""WeChat mini-program sign-in against a local server speaking the documented jscode2session protocol."""
from __future__ import annotations

from sqlalchemy import inspect, select

from backend.auth.models import CitizenAccount
from backend.extensions import db

from .fake_wechat import APPID, SECRET


def login(client, code: str):
    return client.post("/api/auth/wechat/login", json={"code": code})


def test_first_login_creates_the_account_and_the_next_finds_it(app, client, wechat):
    first = login(client, "ok-openid-alice")
    assert first.status_code == 200 and first.json["token_type"] == "Bearer"
    assert login(client, "ok-openid-alice").status_code == 200
    with app.app_context():
        accounts = list(db.session.scalars(select(CitizenAccount).where(CitizenAccount.wechat_openid == "openid-alice")))
    assert len(accounts) == 1
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {first.json['access_token']}"})
    assert me.json["wechat"] is True and me.json["identity_bound"] is False


def test_the_documented_request_is_sent(wechat, client):
    login(client, "ok-openid-bob")
    request = wechat.requests[-1]
    assert request == {"path": "/sns/jscode2session", "appid": APPID, "secret": SECRET, "js_code": "ok-openid-bob",
                       "grant_type": "authorization_code"}


def test_session_key_is_never_stored(app, client, wechat):
    login(client, "ok-openid-carol")
    with app.app_context():
        columns = {c["name"] for c in inspect(db.engine).get_columns("citizen_accounts")}
        row = db.session.execute(select(CitizenAccount.__table__).where(CitizenAccount.wechat_openid == "openid-carol")).one()
    assert not any("session" in c for c in columns)
    assert "tiihtNczf5v6AKRyjwEUhQ==" not in str(tuple(row))


def test_wechat_error_codes_map_to_ours(client, wechat):
    expected = {"invalid": (401, "wechat_code_invalid"), "used": (401, "wechat_code_invalid"),
                "quota": (429, "rate_limited"), "risky": (403, "wechat_user_blocked"),
                "busy": (503, "wechat_unavailable")}
    for code, (status, problem) in expected.items():
        response = login(client, code)
        assert (response.status_code, response.json["code"]) == (status, problem), code
        assert response.mimetype == "application/problem+json"


def test_broken_answers_are_unavailable_never_a_crash(client, wechat):
    for code in ("garbage", "http500", "slow"):
        response = login(client, code)
        assert (response.status_code, response.json["code"]) == (503, "wechat_unavailable"), code


def test_wrong_secret_and_unreachable_server_are_unavailable(app, client, wechat, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_SECRET", "wrong")
    assert login(client, "ok-openid-dave").json["code"] == "wechat_unavailable"
    monkeypatch.setitem(app.config, "WECHAT_SECRET", SECRET)
    monkeypatch.setitem(app.config, "WECHAT_API_BASE", "http://127.0.0.1:1")
    assert login(client, "ok-openid-dave").json["code"] == "wechat_unavailable"
    monkeypatch.setitem(app.config, "WECHAT_APPID", None)
    assert login(client, "ok-openid-dave").status_code == 503


def test_secret_and_code_stay_out_of_the_log(client, wechat, caplog):
    import logging
    logging.getLogger("backend.auth.wechat").disabled = False
    with caplog.at_level("INFO"):
        login(client, "invalid")
        login(client, "busy")
    text = " ".join(r.getMessage() for r in caplog.records)
    assert SECRET not in text and "40029" in text
