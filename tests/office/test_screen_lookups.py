"""What the office's screens read to speak Chinese: the error registry's messages and the tier ladder."""
from __future__ import annotations

from backend.errors import ErrorCode


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
