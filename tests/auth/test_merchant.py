"""Merchant staff (argon2id) and scanning devices: one-time enrolment codes, tokens bound to a merchant, revocation."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from backend.auth.models import DeviceEnrolment, MerchantStaff
from backend.auth.staff import hash_password
from backend.config import from_env
from backend.demo import DEMO_PASSWORD
from backend.extensions import db
from backend.audit import AuditEntry


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def enrolment_code(client, headers) -> str:
    response = client.post("/api/merchant/enrolments", headers=headers)
    assert response.status_code == 201, response.json
    assert response.json["qr_svg"].lstrip().startswith("<") and "svg" in response.json["qr_svg"]
    return response.json["code"]


def test_staff_login_with_argon2id(app, client):
    response = client.post("/api/auth/staff/login", json={"username": "lapenpen-cashier", "password": DEMO_PASSWORD})
    assert response.status_code == 200
    me = client.get("/api/merchant/me", headers=bearer(response.json["access_token"]))
    assert me.json["partner"]["name"] == "辣盆盆小龙虾饭店" and me.json["device"] is None
    with app.app_context():
        assert db.session.scalar(select(MerchantStaff.password_hash).limit(1)).startswith("$argon2id$")
    wrong = client.post("/api/auth/staff/login", json={"username": "lapenpen-cashier", "password": "x"})
    assert wrong.status_code == 401 and wrong.json["code"] == "invalid_credentials"


def test_passwords_are_hashed_with_the_library_defaults_unless_the_config_names_another_profile(app, make_app):
    production = make_app(ARGON2_PROFILE=from_env()["ARGON2_PROFILE"])
    with production.app_context():
        assert hash_password("correct horse battery").startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    with app.app_context():  # the tests' own: CHEAPEST, so that a sign-in costs no 0.2 s
        assert hash_password("correct horse battery").startswith("$argon2id$v=19$m=8,t=1,p=1$")


def test_inactive_staff_cannot_sign_in_or_refresh(app, client, new_staff):
    staff_id, username, _ = new_staff(password="a long enough password")
    tokens = client.post("/api/auth/staff/login", json={"username": username, "password": "a long enough password"}).json
    with app.app_context():
        db.session.get(MerchantStaff, staff_id).active = False
        db.session.commit()
    assert client.post("/api/auth/staff/login",
                       json={"username": username, "password": "a long enough password"}).status_code == 401
    assert client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401


def test_enrol_a_device_and_use_its_token(app, client, auth_header):
    code = enrolment_code(client, auth_header("merchant-admin"))
    enrolled = client.post("/api/devices/enrol", json={"code": code.lower(), "name": "前台收银"})
    assert enrolled.status_code == 201
    body = enrolled.json
    assert body["device"]["name"] == "前台收银" and body["partner"]["name"] == "辣盆盆小龙虾饭店"
    perk = body["partner"]["perks"][0]
    assert {"id", "kind", "title", "discount_permille"} <= set(perk) and perk["discount_permille"] == 980
    me = client.get("/api/merchant/me", headers=bearer(body["device_token"]))
    assert me.status_code == 200 and me.json["device"] == body["device"] and me.json["role"] == "device"
    import jwt
    claims = jwt.decode(body["device_token"], options={"verify_signature": False})
    assert claims["role"] == "device" and claims["pid"] == body["partner"]["id"]
    with app.app_context():
        stored = list(db.session.scalars(select(DeviceEnrolment.code_hash)))
        actions = set(db.session.scalars(select(AuditEntry.action)))
    assert code.replace("-", "") not in " ".join(stored)
    assert {"device.enrolment_created", "device.enrolled"} <= actions


def test_codes_are_one_time_and_expire(app, client, auth_header):
    code = enrolment_code(client, auth_header("merchant-admin"))
    assert client.post("/api/devices/enrol", json={"code": code, "name": "a"}).status_code == 201
    reused = client.post("/api/devices/enrol", json={"code": code, "name": "b"})
    assert reused.status_code == 400 and reused.json["code"] == "enrolment_code_invalid"
    assert client.post("/api/devices/enrol", json={"code": "ABCD-EFGH-JKMN", "name": "c"}).json["code"] == \
        "enrolment_code_invalid"
    stale = enrolment_code(client, auth_header("merchant-admin"))
    with app.app_context():
        db.session.execute(db.update(DeviceEnrolment).where(DeviceEnrolment.used_at.is_(None))
                           .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
    expired = client.post("/api/devices/enrol", json={"code": stale, "name": "d"})
    assert expired.status_code == 410 and expired.json["code"] == "enrolment_code_expired"


def test_revoking_a_device_stops_its_token_at_once(client, auth_header):
    admin = auth_header("merchant-admin")
    token = client.post("/api/devices/enrol", json={"code": enrolment_code(client, admin), "name": "x"}).json
    headers = bearer(token["device_token"])
    assert client.get("/api/merchant/me", headers=headers).status_code == 200
    listed = client.get("/api/merchant/devices", headers=admin).json["devices"]
    assert any(d["id"] == token["device"]["id"] and d["revoked_at"] is None for d in listed)
    revoked = client.post(f"/api/merchant/devices/{token['device']['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    assert client.get("/api/merchant/me", headers=headers).status_code == 401
    assert client.post("/api/redemptions", headers=headers, json={}).status_code == 401


def test_revoked_device_stays_refused_when_redis_is_down(client, auth_header, make_app):
    admin = auth_header("merchant-admin")
    token = client.post("/api/devices/enrol", json={"code": enrolment_code(client, admin), "name": "x"}).json
    client.post(f"/api/merchant/devices/{token['device']['id']}/revoke", headers=admin)
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    assert broken.get("/api/merchant/me", headers=bearer(token["device_token"])).status_code == 401


def test_another_merchant_cannot_see_or_revoke_our_devices(client, auth_header, new_staff):
    admin = auth_header("merchant-admin")
    device = client.post("/api/devices/enrol", json={"code": enrolment_code(client, admin), "name": "x"}).json
    _, username, _ = new_staff(partner_name="大卫美术教育", role="merchant_admin", password="another long password")
    other = bearer(client.post("/api/auth/staff/login",
                               json={"username": username, "password": "another long password"}).json["access_token"])
    assert client.post(f"/api/merchant/devices/{device['device']['id']}/revoke", headers=other).status_code == 404
    assert all(d["id"] != device["device"]["id"] for d in client.get("/api/merchant/devices", headers=other).json["devices"])
    assert client.get("/api/merchant/me", headers=bearer(device["device_token"])).status_code == 200


def test_cashier_cannot_enrol_or_revoke(client, auth_header):
    cashier = auth_header("cashier")
    assert client.post("/api/merchant/enrolments", headers=cashier).status_code == 403
    assert client.get("/api/merchant/devices", headers=cashier).status_code == 403


def test_demo_enrolment_code_command(runner, client):
    result = runner.invoke(args=["demo", "enrolment-code"])
    assert result.exit_code == 0, result.output
    code = result.stdout.strip()
    enrolled = client.post("/api/devices/enrol", json={"code": code, "name": "演示"})
    assert enrolled.status_code == 201 and enrolled.json["partner"]["name"] == "辣盆盆小龙虾饭店"


def test_a_device_that_signs_out_is_unenrolled(app, client, auth_header):
    from backend.auth.models import Device
    token = client.post("/api/devices/enrol", json={"code": enrolment_code(client, auth_header("merchant-admin")),
                                                    "name": "x"}).json
    assert client.post("/api/auth/logout", headers=bearer(token["device_token"])).status_code == 204
    assert client.get("/api/merchant/me", headers=bearer(token["device_token"])).status_code == 401
    with app.app_context():
        assert db.session.get(Device, token["device"]["id"]).revoked_at is not None
