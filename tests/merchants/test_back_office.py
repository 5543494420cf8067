"""The merchant admin's back-office routes: devices renamed, cashiers disabled, enabled and given a
new password, each change audited and confined to the admin's own merchant."""
from __future__ import annotations

from sqlalchemy import text

from backend.auth.models import MerchantStaff
from backend.auth.staff import hash_password
from backend.extensions import db


def actions(target: str) -> list[str]:
    """The audit log's actions on `target`, oldest first (read by its table: the model may move)."""
    return list(db.session.scalars(text("select action from audit_log where target = :target order by id"),
                                   {"target": target}))


def test_the_admin_renames_a_device_and_it_is_audited(shop, client):
    admin = shop.header(role="merchant_admin")
    device = shop.devices[0].id
    response = client.patch(f"/api/merchant/devices/{device}", headers=admin, json={"name": "  前台扫码机 "})
    assert response.status_code == 200 and response.json["name"] == "前台扫码机"
    listed = client.get("/api/merchant/devices", headers=admin).json["devices"]
    assert {"前台扫码机", "收银台2"} <= {d["name"] for d in listed} and "last_seen_at" in listed[0]
    assert actions(f"device:{device}") == ["device.renamed"]
    assert client.patch(f"/api/merchant/devices/{device}", headers=admin, json={"name": "  "}).status_code == 422
    assert client.patch(f"/api/merchant/devices/{device}", headers=shop.header(), json={"name": "x"}).status_code == 403


def signed_in_cashier(shop, client) -> dict:
    """The shop's cashier signed in with a password, as at the till (a session that can be ended)."""
    member = db.session.get(MerchantStaff, shop.cashier.id)
    member.password_hash = hash_password("the cashier's password")
    db.session.commit()
    login = client.post("/api/auth/staff/login", json={"username": member.username, "password": "the cashier's password"})
    assert login.status_code == 200, login.json
    return {"Authorization": f"Bearer {login.json['access_token']}"}


def test_a_disabled_cashier_is_out_at_once_and_can_be_enabled_again(shop, client):
    admin, cashier = shop.header(role="merchant_admin"), signed_in_cashier(shop, client)
    assert client.get("/api/merchant/me", headers=cashier).status_code == 200
    off = client.patch(f"/api/merchant/staff/{shop.cashier.id}", headers=admin, json={"active": False})
    assert off.status_code == 200 and off.json["active"] is False
    assert client.get("/api/merchant/me", headers=cashier).status_code == 401
    on = client.patch(f"/api/merchant/staff/{shop.cashier.id}", headers=admin, json={"active": True})
    assert on.json["active"] is True
    assert actions(f"staff:{shop.cashier.id}") == ["staff.disabled", "staff.enabled"]


def test_a_reset_password_signs_in_and_the_old_sessions_end(shop, client):
    admin = shop.header(role="merchant_admin")
    username = db.session.get(MerchantStaff, shop.cashier.id).username
    weak = client.post(f"/api/merchant/staff/{shop.cashier.id}/password", headers=admin, json={"password": "short"})
    assert weak.status_code == 422 and weak.json["code"] == "password_too_weak"
    login = client.post("/api/auth/staff/login", json={"username": username, "password": "a new long password"})
    assert login.status_code == 401
    reset = client.post(f"/api/merchant/staff/{shop.cashier.id}/password", headers=admin,
                        json={"password": "a new long password"})
    assert reset.status_code == 200 and "password" not in reset.json
    login = client.post("/api/auth/staff/login", json={"username": username, "password": "a new long password"})
    assert login.status_code == 200
    session = {"Authorization": f"Bearer {login.json['access_token']}"}
    assert client.get("/api/merchant/me", headers=session).status_code == 200
    client.post(f"/api/merchant/staff/{shop.cashier.id}/password", headers=admin, json={"password": "yet another password"})
    assert client.get("/api/merchant/me", headers=session).status_code == 401
    assert actions(f"staff:{shop.cashier.id}") == ["staff.password_reset", "staff.password_reset"]


def test_only_own_cashiers_are_managed(shop, client, auth_header):
    # The demo's admin works for another partner: our cashier does not exist for them.
    other_admin = auth_header("merchant-admin")
    for method, path, body in (("patch", f"/api/merchant/staff/{shop.cashier.id}", {"active": False}),
                               ("post", f"/api/merchant/staff/{shop.cashier.id}/password", {"password": "x" * 12}),
                               ("patch", f"/api/merchant/devices/{shop.devices[0].id}", {"name": "x"})):
        response = getattr(client, method)(path, headers=other_admin, json=body)
        assert response.status_code == 404 and response.json["code"] == "not_found", path
    assert db.session.get(MerchantStaff, shop.cashier.id).active is True
