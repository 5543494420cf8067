"""Sessions: pinned JWTs, rotating refresh tokens, family revocation, logout at once, Redis down or restarted."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import time

import jwt
import redis
from sqlalchemy import select

from backend.auth import sessions
from backend.auth.models import RefreshToken, RevokedSession
from backend.auth.service import ALGORITHM, AUDIENCE, ISSUER
from backend.extensions import db


def sms_session(client, outbox, phone: str) -> dict:
    assert client.post("/api/auth/sms/send", json={"phone": phone}).status_code == 202
    response = client.post("/api/auth/sms/login", json={"phone": phone, "code": outbox.last_code(phone)})
    assert response.status_code == 200, response.json
    return response.json


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_login_answer_has_the_contract_shape(client, outbox, fresh_phone):
    body = sms_session(client, outbox, fresh_phone())
    assert set(body) == {"access_token", "refresh_token", "expires_in", "token_type"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 15 * 60
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["typ"] == "access" and claims["iss"] == ISSUER and claims["aud"] == AUDIENCE
    assert jwt.get_unverified_header(body["access_token"])["alg"] == ALGORITHM


def test_refresh_rotates_and_the_refresh_token_is_stored_hashed(app, client, outbox, fresh_phone):
    first = sms_session(client, outbox, fresh_phone())
    second = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.json["refresh_token"] != first["refresh_token"]
    assert client.get("/api/auth/me", headers=bearer(second.json["access_token"])).status_code == 200
    with app.app_context():
        stored = list(db.session.scalars(select(RefreshToken.token_hash)))
    assert first["refresh_token"] not in stored and second.json["refresh_token"] not in stored
    assert all(len(h) == 64 for h in stored)


def test_reusing_a_spent_refresh_token_revokes_the_whole_family_at_once(client, outbox, fresh_phone):
    first = sms_session(client, outbox, fresh_phone())
    second = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]}).json
    # The thief replays the old token: everything of this session dies, the owner's new tokens included.
    replay = client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert replay.status_code == 401 and replay.json["code"] == "session_revoked"
    assert client.get("/api/auth/me", headers=bearer(second["access_token"])).status_code == 401
    assert client.get("/api/auth/me", headers=bearer(first["access_token"])).status_code == 401
    later = client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert later.status_code == 401 and later.json["code"] == "session_revoked"


def test_other_sessions_survive_a_family_revocation(app, client, outbox, fresh_phone, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_SMS_PER_PHONE", "10/minute")
    phone = fresh_phone()
    laptop = sms_session(client, outbox, phone)
    phone_session = sms_session(client, outbox, phone)
    client.post("/api/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    client.post("/api/auth/refresh", json={"refresh_token": laptop["refresh_token"]})
    assert client.get("/api/auth/me", headers=bearer(phone_session["access_token"])).status_code == 200


def test_unknown_or_expired_refresh_token_is_refused(app, client, outbox, fresh_phone):
    assert client.post("/api/auth/refresh", json={"refresh_token": "rt_nonsense"}).json["code"] == "refresh_invalid"
    body = sms_session(client, outbox, fresh_phone())
    with app.app_context():
        db.session.execute(db.update(RefreshToken).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
    expired = client.post("/api/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert expired.status_code == 401 and expired.json["code"] == "refresh_invalid"


def test_logout_takes_effect_at_once_for_access_and_refresh(client, outbox, fresh_phone):
    body = sms_session(client, outbox, fresh_phone())
    assert client.post("/api/auth/logout", headers=bearer(body["access_token"])).status_code == 204
    assert client.get("/api/auth/me", headers=bearer(body["access_token"])).status_code == 401
    assert client.post("/api/pass", headers=bearer(body["access_token"]), json={}).status_code == 401
    refused = client.post("/api/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert refused.status_code == 401


def test_logout_holds_when_redis_is_down(make_app, client, outbox, fresh_phone):
    body = sms_session(client, outbox, fresh_phone())
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    assert broken.get("/api/auth/me", headers=bearer(body["access_token"])).status_code == 200
    assert broken.post("/api/auth/logout", headers=bearer(body["access_token"])).status_code == 204
    # Redis never heard of it: the database answers, on the broken app and on the healthy one alike.
    assert broken.get("/api/auth/me", headers=bearer(body["access_token"])).status_code == 401


def test_revocation_made_while_redis_was_down_is_seen_once_redis_is_back(app, make_app, client, outbox, fresh_phone,
                                                                        redis_url):
    body = sms_session(client, outbox, fresh_phone())
    make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client().post("/api/auth/logout",
                                                                   headers=bearer(body["access_token"]))
    # Redis "restarts" empty: the warm marker and the change feed's marker are gone, so the app must
    # not trust its silence (its feed notices within a second and reloads from the database).
    r = redis.Redis.from_url(redis_url)
    prefix = app.config["REDIS_PREFIX"]
    for key in [*r.scan_iter(match=f"{prefix}revoked:*"), *r.scan_iter(match=f"{prefix}changes:*")]:
        r.delete(key)
    deadline = time.monotonic() + 3
    while client.get("/api/auth/me", headers=bearer(body["access_token"])).status_code != 401:
        assert time.monotonic() < deadline, "the revocation was never seen"
        time.sleep(0.02)
    # ... and after the rebuild Redis alone knows it.
    assert r.exists(f"{prefix}revoked:warm")
    sid = jwt.decode(body["access_token"], options={"verify_signature": False})["sid"]
    assert r.exists(f"{prefix}revoked:{sid}")


def test_a_warm_redis_answers_without_the_database(app, client, outbox, fresh_phone, monkeypatch):
    body = sms_session(client, outbox, fresh_phone())
    client.get("/api/auth/me", headers=bearer(body["access_token"]))  # warms Redis if needed
    calls = []
    monkeypatch.setattr(sessions, "_revoked_in_database", lambda *a, **k: calls.append(a) or False)
    assert client.get("/api/auth/me", headers=bearer(body["access_token"])).status_code == 200
    assert calls == []


def test_revocation_rows_expire_with_the_tokens_they_kill(app, client, outbox, fresh_phone):
    body = sms_session(client, outbox, fresh_phone())
    client.post("/api/auth/logout", headers=bearer(body["access_token"]))
    with app.app_context():
        row = db.session.scalar(select(RevokedSession))
        lifetime = row.expires_at - row.revoked_at
    assert timedelta(minutes=15) < lifetime <= timedelta(hours=13)


def _forge(app, **changes) -> str:
    now = datetime.now(timezone.utc)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "typ": "access", "sub": "citizen:1", "role": "office_admin",
              "sid": "x", "iat": now, "exp": now + timedelta(minutes=5)}
    claims.update(changes)
    key = changes.pop("_key", None) or app.config["SECRET_KEY"]
    claims.pop("_key", None)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="HS256")


def test_tokens_are_refused_unless_everything_checks_out(app, client):
    def status(token):
        return client.get("/api/office/stats", headers=bearer(token)).status_code

    assert status(_forge(app)) == 200
    assert status(_forge(app, aud="someone-else")) == 401
    assert status(_forge(app, iss="someone-else")) == 401
    assert status(_forge(app, typ="refresh")) == 401
    assert status(_forge(app, sid=None)) == 401
    assert status(_forge(app, exp=datetime.now(timezone.utc) - timedelta(seconds=5))) == 401
    assert status(_forge(app, _key="guessed-secret-guessed-secret-00")) == 401
    unsigned = jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "typ": "access", "sub": "office:1", "role": "office_admin",
                           "sid": "x", "iat": 1, "exp": 4_000_000_000}, None, algorithm="none")
    assert status(unsigned) == 401
    assert status("not-a-jwt") == 401
