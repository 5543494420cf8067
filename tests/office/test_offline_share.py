"""Each partner's offline share for the office (issue 14, item 17): `GET /api/office/offline-share`,
recorded redemptions only, by local day, in one query."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from backend.dbtypes import utcnow
from backend.extensions import db
from backend.timeutil import local_day
from tests.helpers import statements_sent

PARTNER = "辣盆盆小龙虾饭店"


def redeem(client, auth_header, **fields) -> dict:
    issued = client.post("/api/pass", headers=auth_header("citizen"), json={}).json
    perk = next(p for p in client.get("/api/partners").json["partners"] if p["name"] == PARTNER)["perks"][0]
    response = client.post("/api/redemptions", headers=auth_header("cashier"), json={
        "token": issued["token"], "perk_id": perk["id"], "client_id": str(uuid.uuid4()),
        "scanned_at": datetime.now(timezone.utc).isoformat(), "amount_fen": 5000, **fields})
    assert response.status_code == 201, response.json
    return response.json


def test_each_partner_gets_its_offline_share_of_recorded_redemptions(app, client, auth_header):
    redeem(client, auth_header)
    voided = redeem(client, auth_header)
    assert redeem(client, auth_header, queued=True)["offline"] is True  # sent again from the scanner's outbox
    assert client.post(f"/api/office/redemptions/{voided['id']}/void", headers=auth_header("office-admin"),
                       json={"reason": "误操作"}).status_code == 200
    header, today = auth_header("office-analyst"), local_day(utcnow())
    with app.app_context(), statements_sent(db.engine) as seen:
        answer = client.get(f"/api/office/offline-share?from={today}&to={today}", headers=header)
    assert answer.status_code == 200
    assert answer.json == {"rows": [{"partner": PARTNER, "redemptions": 2, "offline": 1, "share": 0.5}]}
    assert sum("redemptions" in statement for statement in seen) == 1  # one query
    tomorrow = today + timedelta(days=1)
    assert client.get(f"/api/office/offline-share?from={tomorrow}", headers=header).json == {"rows": []}
    assert client.get("/api/office/offline-share", headers=auth_header("office-auditor")).json == answer.json


def test_the_offline_share_is_for_the_office_only(client, auth_header):
    assert client.get("/api/office/offline-share", headers=auth_header("cashier")).status_code == 403
    assert client.get("/api/office/offline-share").status_code == 401
    bad = client.get("/api/office/offline-share?from=yesterday", headers=auth_header("office-analyst"))
    assert bad.status_code == 422 and bad.json["code"] == "validation_error"


def test_a_start_after_the_end_is_refused(client, auth_header):
    for path in ("/api/office/offline-share", "/api/office/failed-attempts"):
        answer = client.get(f"{path}?from=2026-11-02&to=2026-11-01", headers=auth_header("office-analyst"))
        assert answer.status_code == 422 and answer.json["code"] == "date_range_invalid", path
