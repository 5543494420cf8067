"""The credit office: password sign-in, and company representatives it authorises, every change audited."""
from __future__ import annotations

from sqlalchemy import select

from backend.demo import DEMO_PASSWORD
from backend.extensions import db
from backend.audit import AuditEntry

DEMO_COMPANY_USCC = "91231184MA1BXYM00T"


def audit(app, action):
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_office_login_roles_and_audit(app, client):
    for username, role in (("office-admin", "office_admin"), ("office-analyst", "office_analyst"),
                           ("office-auditor", "office_auditor")):
        response = client.post("/api/auth/office/login", json={"username": username, "password": DEMO_PASSWORD})
        assert response.status_code == 200
        import jwt
        assert jwt.decode(response.json["access_token"], options={"verify_signature": False})["role"] == role
    assert len(audit(app, "office.sign_in")) == 3


def test_wrong_password_and_unknown_user_look_the_same(client):
    wrong = client.post("/api/auth/office/login", json={"username": "office-admin", "password": "nope"})
    unknown = client.post("/api/auth/office/login", json={"username": "nobody", "password": "nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json == unknown.json and wrong.json["code"] == "invalid_credentials"


def test_password_guessing_is_locked_out_per_username(client):
    for _ in range(5):
        client.post("/api/auth/office/login", json={"username": "office-analyst", "password": "guess"})
    locked = client.post("/api/auth/office/login", json={"username": "office-analyst", "password": DEMO_PASSWORD})
    assert locked.status_code == 429 and locked.json["code"] == "rate_limited"


def test_authorising_a_representative_gives_them_the_company_pass(app, client, auth_header, new_citizen, new_person):
    number = new_person()
    account_id, headers = new_citizen()
    client.post("/api/auth/identity", headers=headers, json={"name": "赵六", "id_number": number})
    assert client.post("/api/pass", headers=headers, json={"holder": "company"}).json["code"] == "holder_not_bound"
    created = client.post("/api/office/representatives", headers=auth_header("office-admin"),
                          json={"uscc": DEMO_COMPANY_USCC.lower(), "id_number": number})
    assert created.status_code == 201 and created.json["account_id"] == account_id and created.json["active"]
    issued = client.post("/api/pass", headers=headers, json={"holder": "company"})
    assert issued.status_code == 201 and issued.json["holder_kind"] == "company"
    entries = audit(app, "representative.authorised")
    assert len(entries) == 1 and entries[0].actor.startswith("office:")
    assert number not in str(entries[0].detail) and DEMO_COMPANY_USCC not in str(entries[0].detail)
    listed = client.get("/api/office/representatives", headers=auth_header("office-auditor")).json
    assert any(r["id"] == created.json["id"] for r in listed["representatives"])

    revoked = client.post(f"/api/office/representatives/{created.json['id']}/revoke", headers=auth_header("office-admin"))
    assert revoked.status_code == 200 and revoked.json["active"] is False
    assert client.post("/api/pass", headers=headers, json={"holder": "company"}).json["code"] == "holder_not_bound"
    assert len(audit(app, "representative.revoked")) == 1


def test_representative_refusals(client, auth_header, new_person):
    admin = auth_header("office-admin")
    unbound = new_person()
    assert client.post("/api/office/representatives", headers=admin,
                       json={"uscc": "91231184MA1BXYM00X", "id_number": unbound}).json["code"] == "uscc_invalid"
    assert client.post("/api/office/representatives", headers=admin,
                       json={"uscc": DEMO_COMPANY_USCC, "id_number": unbound}).json["code"] == "representative_not_bound"
    assert client.post("/api/office/representatives", headers=admin,
                       json={"uscc": DEMO_COMPANY_USCC, "id_number": "123"}).json["code"] == "id_number_invalid"
    analyst = client.post("/api/office/representatives", headers=auth_header("office-analyst"),
                          json={"uscc": DEMO_COMPANY_USCC, "id_number": unbound})
    assert analyst.status_code == 403
    assert client.post("/api/office/representatives/999999/revoke", headers=admin).status_code == 404
