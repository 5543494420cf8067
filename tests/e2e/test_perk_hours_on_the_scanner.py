"""A partner the office signs up today scans today, and its scanner names each perk's time windows
(特定场次、时段): Chromium at 360x740, the device enrolled with the office's first code."""
from __future__ import annotations

import uuid

import pytest
import requests

pytestmark = pytest.mark.e2e


def test_a_new_partners_scanner_shows_its_perks_hours(live_server, launch, token, screenshot):
    office = {"Authorization": f"Bearer {token('office-admin')}"}

    def post(path: str, body: dict) -> dict:
        response = requests.post(f"{live_server}{path}", headers=office, json=body, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()

    partner = post("/api/office/partners", {"name": f"鸿泰畜牧服务站{uuid.uuid4().int % 10**4:04d}", "scenario_code": "livestock_vet",
                                            "hours": "每天 08:00-17:30"})
    post(f"/api/office/partners/{partner['id']}/perks", {"kind": "discount", "title": "特定时段九八折",
                                                         "discount_permille": 980,
                                                         "time_windows": ["09:00-11:30", "14:00-17:00"]})
    post(f"/api/office/partners/{partner['id']}/perks", {"kind": "green_channel", "title": "绿色通道取票"})
    code = post(f"/api/office/partners/{partner['id']}/enrolments", {})["code"]

    page = launch().new_page()
    page.goto(f"{live_server}/scanner/")
    page.fill("#enrol-code", code)
    page.fill("#enrol-name", "兽医站前台")
    page.click("#enrol-submit")
    page.wait_for_selector("#screen-perk:not([hidden])", timeout=20000)
    choices = page.locator("#perk-list button").all_inner_texts()
    assert any("特定时段九八折" in text and "每天 09:00–11:30、14:00–17:00" in text for text in choices), choices
    assert any("绿色通道取票" in text and "每天" not in text for text in choices), choices
    screenshot(page, "17-perk-hours")
    page.locator("#perk-list button", has_text="特定时段九八折").click()
    page.wait_for_selector("#screen-scan:not([hidden])", timeout=10000)
    assert page.inner_text("#perk-name") == "特定时段九八折（每天 09:00–11:30、14:00–17:00）"
