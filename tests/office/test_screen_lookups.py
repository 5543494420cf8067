"""What the office's screens read to speak Chinese (the error registry's messages, the tier ladder), and a
new partner's first enrolment code."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import delete

from backend.auth.models import Device, DeviceEnrolment
from backend.errors import ErrorCode
from backend.extensions import db
from backend.merchants.models import Partner, Perk


def test_error_messages_are_the_registry_for_every_office_role(client, auth_header):
    for role in ("office-admin", "office-analyst", "office-auditor"):
        response = client.get("/api/office/error-messages", headers=auth_header(role))
        assert response.status_code == 200
        assert response.get_json()["messages"] == {code.value: code.message for code in ErrorCode}
    assert client.get("/api/office/error-messages").status_code == 401
    assert client.get("/api/office/error-messages", headers=auth_header("cashier")).status_code == 403


def test_tiers_list_the_ladder_low_to_high_with_chinese_names(client, auth_header):
    response = client.get("/api/office/tiers", headers=auth_header("office-auditor"))
    assert response.status_code == 200
    tiers = response.get_json()["tiers"]
    assert [t["level"] for t in tiers] == sorted(t["level"] for t in tiers)
    assert {"level": 2, "code": "good", "name": "诚信良好"} in tiers
    assert client.get("/api/office/tiers", headers=auth_header("citizen")).status_code == 403


@pytest.fixture
def forget_partner(app):
    """Forget the partner a test signed up, with its enrolments and devices."""
    made = []
    yield made.append
    with app.app_context():
        for partner_id in made:
            for model in (DeviceEnrolment, Device, Perk):  # an enrolment names the device it made
                db.session.execute(delete(model).where(model.partner_id == partner_id))
            db.session.execute(delete(Partner).where(Partner.id == partner_id))
        db.session.commit()


def test_the_office_gives_a_new_partner_its_first_enrolment_code_which_enrols_a_scanner(client, auth_header,
                                                                                         forget_partner):
    partner = client.post("/api/office/partners", headers=auth_header("office-admin"),
                          json={"name": f"肇东市测试扫码店{uuid.uuid4().int % 10**4:04d}", "scenario_code": "dining"}).get_json()
    forget_partner(partner["id"])
    assert client.post(f"/api/office/partners/{partner['id']}/enrolments",
                       headers=auth_header("office-analyst")).status_code == 403
    assert client.post("/api/office/partners/999999/enrolments", headers=auth_header("office-admin")).status_code == 404
    created = client.post(f"/api/office/partners/{partner['id']}/enrolments", headers=auth_header("office-admin"))
    assert created.status_code == 201
    enrolled = client.post("/api/devices/enrol", json={"code": created.get_json()["code"], "name": "收银台一号"})
    assert enrolled.status_code == 201, enrolled.get_json()
    audit = client.get("/api/office/audit?action=device.enrolment_created",
                       headers=auth_header("office-auditor")).get_json()["entries"]
    assert audit[0]["target"] == f"partner:{partner['id']}" and audit[0]["actor"].startswith("office:")
