"""The citizen page and the office dashboard in Debian's Chromium, against gunicorn."""
from __future__ import annotations

import random
import uuid
from datetime import datetime, timezone

import pytest
import requests
import zxingcpp
from PIL import Image

from backend.demo import synthetic_id_number

pytestmark = pytest.mark.e2e


def desktop(launch):
    return launch(desktop=True)


def office_page(launch, live_server, username: str, password: str = "demo-password"):
    """The office dashboard in a desktop browser, with the sign-in form submitted."""
    page = desktop(launch).new_page()
    page.goto(f"{live_server}/office/")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login")
    return page


def test_citizen_page_shows_a_qr_that_a_real_decoder_reads_as_a_valid_pass(live_server, launch, token, tmp_path):
    page = launch().new_page()
    page.goto(f"{live_server}/m/#token={token('citizen')}")
    page.wait_for_selector("#qr svg", timeout=15000)
    assert page.locator("#tier-name").inner_text() == "诚信良好"
    assert "秒后失效" in page.locator("#countdown").inner_text()
    assert "辣盆盆小龙虾饭店" in page.locator("#partner-list").inner_text()
    shot = tmp_path / "citizen.png"
    page.locator("#qr").screenshot(path=str(shot))
    results = zxingcpp.read_barcodes(Image.open(shot))
    assert results and results[0].text.startswith("XYM:")
    verdict = requests.post(f"{live_server}/api/pass/verify", json={"token": results[0].text}, timeout=10,
                            headers={"Authorization": f"Bearer {token('cashier')}"})
    assert verdict.status_code == 200 and verdict.json()["tier"] == "good"
    assert "holder" not in verdict.json() and "subject_id" not in verdict.json()


def test_blacklisted_citizen_sees_why_there_is_no_pass(live_server, launch, token):
    page = launch().new_page()
    page.goto(f"{live_server}/m/#token={token('citizen-blacklisted')}")
    page.wait_for_function("() => document.querySelector('#pass-error').textContent.length > 0", timeout=15000)
    assert "失信" in page.locator("#pass-error").inner_text()
    assert page.locator("#qr svg").count() == 0


def test_office_signs_in_sees_the_chart_exports_and_imports_with_progress(live_server, launch, token, tmp_path):
    issued = requests.post(f"{live_server}/api/pass", json={}, timeout=10,
                           headers={"Authorization": f"Bearer {token('citizen')}"}).json()
    perk_id = next(p for p in requests.get(f"{live_server}/api/partners", timeout=10).json()["partners"]
                   if p["name"] == "辣盆盆小龙虾饭店")["perks"][0]["id"]
    redeemed = requests.post(f"{live_server}/api/redemptions", timeout=10, headers={
        "Authorization": f"Bearer {token('cashier')}"}, json={
        "token": issued["token"], "perk_id": perk_id, "client_id": str(uuid.uuid4()),
        "scanned_at": datetime.now(timezone.utc).isoformat(), "amount_fen": 8800})
    assert redeemed.status_code == 201

    page = office_page(launch, live_server, "office-admin")
    page.wait_for_selector("#chart[data-rows]:not([data-rows=\"0\"])", timeout=15000)
    assert page.locator("#chart canvas").count() == 1
    assert "信易+餐饮" in page.locator("#stats-table").inner_text()
    assert "管理员" in page.locator("#who").inner_text()

    with page.expect_download() as download:
        page.click("#export")
    csv_text = download.value.path().read_text(encoding="utf-8-sig")
    assert csv_text.startswith("场景,核销次数") and "信易+餐饮" in csv_text and "合计" in csv_text

    rng = random.Random(808)
    export = tmp_path / "export.csv"
    export.write_text("kind,identifier,score,rating,tax_grade,red_list,black_list,updated_at\n" + "".join(
        f"person,{synthetic_id_number(rng)},{1000 + i},,,0,0,2026-11-20\n" for i in range(300)) + "person,bad,1,,,0,0,\n",
        encoding="utf-8")
    page.click("#tabs [data-tab=import]")  # each screen of the dashboard is a tab
    page.set_input_files("#import-file", str(export))
    page.click("#import-start")
    page.wait_for_function("() => document.querySelector('#import-status').textContent.startsWith('已完成')", timeout=30000)
    assert page.locator("#import-progress").get_attribute("value") == "100"
    assert "拒绝 1 行" in page.locator("#import-status").inner_text()
    assert "第 302 行" in page.locator("#import-errors").inner_text()


def test_office_signs_up_a_partner_that_the_public_directory_then_lists(live_server, launch):
    name = f"肇东市测试眼镜店{uuid.uuid4().int % 10**4:04d}"
    page = office_page(launch, live_server, "office-admin")
    page.click("#tabs [data-tab=partners]")
    page.wait_for_selector("#partner-scenario option", state="attached", timeout=10000)
    page.fill("#partner-name", name)
    page.select_option("#partner-scenario", "dining")
    page.fill("#partner-address", "肇东市测试路 8 号")
    page.click("#partner-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#partner-status').textContent.startsWith('已签约')",
                           timeout=10000)
    listed = next(p for p in requests.get(f"{live_server}/api/partners", timeout=10).json()["partners"]
                  if p["name"] == name)
    assert listed["scenario"] == "信易+餐饮"
    assert [(perk["kind"], perk["discount_permille"]) for perk in listed["perks"]] == [("discount", 980)]


def test_office_analyst_has_no_import_and_a_wrong_password_is_refused(live_server, launch):
    page = office_page(launch, live_server, "office-analyst", "wrong-password")
    page.wait_for_function("() => document.querySelector('#signin-error').textContent.length > 0", timeout=10000)
    page.fill("#password", "demo-password")
    page.click("#login")
    page.wait_for_selector("#workspace:not([hidden])", timeout=10000)
    assert page.locator("#import-card").is_hidden() and page.locator("#partner-card").is_hidden()
