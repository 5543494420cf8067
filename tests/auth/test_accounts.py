"""Accounts come from somewhere: the office opens a partner's staff, a merchant admin adds cashiers,
a deployment's first office admin is made on the command line. Every one is audited."""
from __future__ import annotations

import itertools

from sqlalchemy import select

from backend.auth.models import MerchantStaff, OfficeUser
from backend.extensions import db
from backend.merchants.models import Partner
from backend.audit import AuditEntry

_names = itertools.count(1)


def username(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def partner_id(app, name: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Partner.id).where(Partner.name == name))


def test_office_opens_a_merchant_admin_who_can_sign_in_and_add_a_cashier(client, auth_header, app):
    notary = partner_id(app, "肇东市公证处")
    admin_name = username("notary-admin")
    created = client.post(f"/api/office/partners/{notary}/staff", headers=auth_header("office-admin"),
                          json={"username": admin_name, "password": "long enough pw", "role": "merchant_admin"})
    assert created.status_code == 201, created.json
    assert created.json == {"id": created.json["id"], "partner_id": notary, "username": admin_name,
                            "role": "merchant_admin", "active": True}
    assert "password" not in created.json
    session = client.post("/api/auth/staff/login", json={"username": admin_name, "password": "long enough pw"})
    assert session.status_code == 200
    bearer = {"Authorization": f"Bearer {session.json['access_token']}"}
    cashier_name = username("notary-cashier")
    cashier = client.post("/api/merchant/staff", headers=bearer,
                          json={"username": cashier_name, "password": "another long pw", "role": "merchant_admin"})
    assert cashier.status_code == 201
    assert cashier.json["role"] == "cashier" and cashier.json["partner_id"] == notary  # never an admin, never elsewhere
    listed = client.get("/api/merchant/staff", headers=bearer).json["staff"]
    assert {m["username"] for m in listed} == {admin_name, cashier_name}
    with app.app_context():
        stored = db.session.scalar(select(MerchantStaff).where(MerchantStaff.username == cashier_name))
        assert stored.password_hash.startswith("$argon2id$")
        actions = set(db.session.scalars(select(AuditEntry.action).where(AuditEntry.action == "staff.created")))
        assert actions == {"staff.created"}


def test_refusals_taken_weak_and_unknown_partner(client, auth_header, app):
    lapenpen = partner_id(app, "辣盆盆小龙虾饭店")
    taken = client.post(f"/api/office/partners/{lapenpen}/staff", headers=auth_header("office-admin"),
                        json={"username": "office-admin", "password": "long enough pw"})
    assert taken.status_code == 409 and taken.json["code"] == "username_taken"
    weak = client.post("/api/merchant/staff", headers=auth_header("merchant-admin"),
                       json={"username": username("weak"), "password": "short"})
    assert weak.status_code == 422 and weak.json["code"] == "password_too_weak"
    nowhere = client.post("/api/office/partners/999999/staff", headers=auth_header("office-admin"),
                          json={"username": username("ghost"), "password": "long enough pw"})
    assert nowhere.status_code == 404


def test_first_office_admin_is_made_on_the_command_line(runner, client, app):
    name = username("first-admin")
    result = runner.invoke(args=["accounts", "create-office-user", name, "office_admin"],
                           input="a strong password\na strong password\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(OfficeUser.role).where(OfficeUser.username == name)) == "office_admin"
    assert client.post("/api/auth/office/login", json={"username": name, "password": "a strong password"}).status_code == 200
    refused = runner.invoke(args=["accounts", "create-office-user", name, "office_admin"], input="x" * 12 + "\n" + "x" * 12 + "\n")
    assert refused.exit_code != 0 and "已被使用" in refused.output
