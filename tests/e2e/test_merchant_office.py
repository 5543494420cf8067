"""The merchant back-office /merchant/ in Chromium: from the admin's sign-in to a scanning phone,
cashiers, the month's statement with a day's detail and CSV, and the perks' rules; at 1366x768 and
360x740, every page under the Content-Security-Policy (csp_violations)."""
from __future__ import annotations

import secrets
import uuid
from datetime import datetime, timezone

import pytest
import requests

pytestmark = pytest.mark.e2e

DINING = "辣盆盆小龙虾饭店"
ADMIN, PASSWORD = "lapenpen-admin", "demo-password"


def sign_in(page, live_server):
    page.goto(f"{live_server}/merchant/")
    page.wait_for_selector("#signin:not([hidden])")
    page.fill("#username", ADMIN)
    page.fill("#password", PASSWORD)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#workspace:not([hidden])")
    page.wait_for_function("(name) => document.querySelector('#who').textContent.includes(name)", arg=DINING)


def staff_login(live_server, username, password):
    return requests.post(f"{live_server}/api/auth/staff/login", json={"username": username, "password": password},
                         timeout=10)


def redeem(live_server, token, amount_fen) -> dict:
    issued = requests.post(f"{live_server}/api/pass", json={}, timeout=10,
                           headers={"Authorization": f"Bearer {token('citizen')}"}).json()
    perk_id = next(p for p in requests.get(f"{live_server}/api/partners", timeout=10).json()["partners"]
                   if p["name"] == DINING)["perks"][0]["id"]
    response = requests.post(f"{live_server}/api/redemptions", timeout=10, headers={
        "Authorization": f"Bearer {token('cashier')}"}, json={
        "token": issued["token"], "perk_id": perk_id, "client_id": str(uuid.uuid4()),
        "scanned_at": datetime.now(timezone.utc).isoformat(), "amount_fen": amount_fen})
    assert response.status_code == 201, response.text
    return response.json()


def test_a_merchant_admin_goes_from_sign_in_to_a_scanning_phone(live_server, launch, screenshot):
    page = launch(desktop=True).new_page()
    page.goto(f"{live_server}/merchant/")
    page.wait_for_selector("#signin:not([hidden])")
    # A cashier cannot come in: told so in plain words.
    page.fill("#username", "lapenpen-cashier")
    page.fill("#password", PASSWORD)
    page.click("#signin-form button[type=submit]")
    page.wait_for_function("() => document.querySelector('#signin-error').textContent.includes('收银员')")
    screenshot(page, "1-signin", app="merchant")
    sign_in(page, live_server)

    page.click("#new-enrolment")
    page.wait_for_selector("#enrolment:not([hidden]) #enrolment-qr svg")
    code = page.inner_text("#enrolment-code")
    assert len(code.replace("-", "")) == 12
    link = page.get_attribute("#enrolment-link", "href")
    assert link.endswith(f"/scanner/?enrol={code}")
    screenshot(page, "2-devices-enrolment", app="merchant")

    # The cashier's phone opens the link: the code is filled in, one tap enrols it.
    phone = launch(None).new_page()
    phone.goto(link)
    phone.wait_for_selector("#screen-enrol:not([hidden])")
    assert phone.input_value("#enrol-code") == code
    phone.fill("#enrol-name", "新收银机")
    phone.click("#enrol-submit")
    phone.wait_for_selector("#screen-scan:not([hidden])", timeout=20000)
    assert phone.inner_text("#partner-name") == DINING
    # The scanner's settings lead back here.
    phone.click('.tabs button[data-tab="settings"]')
    assert phone.get_attribute("#office-link", "href") == "../merchant/"
    device_token = phone.evaluate("JSON.parse(localStorage.getItem('xym.scanner.session')).token")

    page.click('#sections button[data-section="staff"]')
    page.click('#sections button[data-section="devices"]')
    row = page.locator("#devices tbody tr", has_text="新收银机")
    row.wait_for()
    assert "使用中" in row.inner_text()
    row = page.locator(f'#devices tbody tr[data-device="{row.get_attribute("data-device")}"]')
    row.locator("button", has_text="重命名").click()
    row.locator("input").fill("前台扫码机")
    row.locator("button", has_text="保存").click()
    page.wait_for_function("() => document.querySelector('#devices-status').textContent.includes('已改名')")
    page.wait_for_function("(id) => document.querySelector(`#devices tr[data-device='${id}'] td`).textContent"
                           " === '前台扫码机'", arg=row.get_attribute("data-device"))
    me = requests.get(f"{live_server}/api/merchant/me", headers={"Authorization": f"Bearer {device_token}"}, timeout=10)
    assert me.status_code == 200 and me.json()["device"]["name"] == "前台扫码机"
    row.locator("button", has_text="吊销").click()
    row.locator("button", has_text="确认吊销").click()
    page.wait_for_selector("#devices tbody tr:has-text('前台扫码机'):has-text('已吊销')")
    screenshot(page, "3-devices", app="merchant")
    me = requests.get(f"{live_server}/api/merchant/me", headers={"Authorization": f"Bearer {device_token}"}, timeout=10)
    assert me.status_code == 401, "a revoked device is refused at once"


def test_cashiers_are_added_disabled_and_given_a_new_password(live_server, launch, screenshot):
    page = launch(desktop=True).new_page()
    sign_in(page, live_server)
    page.click('#sections button[data-section="staff"]')
    username = f"e2e-{secrets.token_hex(3)}"
    page.fill("#staff-username", username)
    page.fill("#staff-password", "first password 1")
    page.click("#staff-form button[type=submit]")
    row = page.locator("#staff tbody tr", has_text=username)
    row.wait_for()
    assert "正常" in row.inner_text() and "收银员" in row.inner_text()
    assert staff_login(live_server, username, "first password 1").status_code == 200

    row.locator("button", has_text="停用").click()
    page.wait_for_selector(f"#staff tbody tr:has-text('{username}'):has-text('已停用')")
    assert staff_login(live_server, username, "first password 1").json()["code"] == "invalid_credentials"
    page.locator("#staff tbody tr", has_text=username).locator("button", has_text="恢复").click()
    page.wait_for_selector(f"#staff tbody tr:has-text('{username}'):has-text('正常')")

    row = page.locator("#staff tbody tr", has_text=username)
    row = page.locator(f'#staff tbody tr[data-staff="{row.get_attribute("data-staff")}"]')
    row.locator("button", has_text="重置密码").click()
    row.locator("input").fill("short")
    row.locator("button", has_text="确定").click()
    page.wait_for_function("() => document.querySelector('#staff-status').textContent.includes('10')")
    row.locator("input").fill("second password 2")
    row.locator("button", has_text="确定").click()
    page.wait_for_function("() => document.querySelector('#staff-status').textContent.includes('已重置')")
    screenshot(page, "4-staff", app="merchant")
    assert staff_login(live_server, username, "first password 1").status_code == 401
    assert staff_login(live_server, username, "second password 2").status_code == 200


def test_statement_by_month_and_day_with_voids_csv_and_the_perks(live_server, launch, token, screenshot):
    kept = redeem(live_server, token, 12850)
    voided = redeem(live_server, token, 8870)
    response = requests.post(f"{live_server}/api/redemptions/{voided['id']}/void", json={"reason": "误扫"}, timeout=10,
                             headers={"Authorization": f"Bearer {token('cashier')}"})
    assert response.status_code == 200
    month = requests.get(f"{live_server}/api/merchant/statement", timeout=10,
                         params={"month": kept["recorded_at"][:7]},
                         headers={"Authorization": f"Bearer {token('merchant-admin')}"}).json()

    page = launch(desktop=True).new_page()
    sign_in(page, live_server)
    page.click('#sections button[data-section="statement"]')
    page.wait_for_selector("#statement tfoot tr")
    total = page.inner_text("#statement tfoot tr")
    assert total.split() == ["合计", str(month["total"]["redemptions"]),
                             f"{month['total']['amount_fen'] / 100:.2f}", f"{month['total']['discount_fen'] / 100:.2f}"]
    page.locator("#statement tbody tr.day").first.click()
    page.wait_for_selector("#day-detail:not([hidden])")
    detail = page.inner_text("#day-rows")
    assert "已撤销：误扫" in detail and "88.70" in detail and "128.50" in detail and "个人" in detail
    assert "其中已撤销 1 笔" in page.inner_text("#day-title")
    screenshot(page, "5-statement", app="merchant")
    with page.expect_download() as download:
        page.click("#export")
    text = download.value.path().read_text(encoding="utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0] == "日期,核销笔数,消费金额（元）,优惠金额（元）"
    assert lines[-1] == f"合计,{month['total']['redemptions']},{month['total']['amount_fen'] / 100:.2f}," \
                        f"{month['total']['discount_fen'] / 100:.2f}"

    page.click('#sections button[data-section="perks"]')
    perks = page.inner_text("#perks")
    for words in ("九八折", "适用主体", "最低信用等级", "每人每日", "有效期", "节假日"):
        assert words in perks, words
    screenshot(page, "6-perks", app="merchant")


def test_every_section_reads_on_a_phone(live_server, launch, token, screenshot):
    redeem(live_server, token, 5000)
    page = launch(None).new_page()
    sign_in(page, live_server)
    assert page.is_hidden("#enrolment"), "no enrolment box before a code is asked for"
    for section in ("devices", "staff", "statement", "perks", "complaints"):
        page.click(f'#sections button[data-section="{section}"]')
        page.wait_for_selector(f"#section-{section}:not([hidden])")
        page.wait_for_load_state("networkidle")
        # Nothing wider than the phone: wide tables scroll inside their own box.
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, section
        if section in ("staff", "statement"):  # their columns and buttons fit: nothing to scroll sideways to
            widths = page.evaluate(f"""[...document.querySelectorAll('#section-{section} .table-wrap')]
                .filter((wrap) => wrap.offsetParent).map((wrap) => [wrap.scrollWidth, wrap.clientWidth])""")
            assert widths and all(scroll <= client for scroll, client in widths), (section, widths)
        for button in page.locator(f"#section-{section} button:visible").all():
            button.click(trial=True, timeout=3000)  # on show and not covered
        if section == "devices":
            page.click("#new-enrolment")
            page.wait_for_selector("#enrolment:not([hidden]) #enrolment-qr svg")
            assert page.evaluate("document.documentElement.scrollWidth") <= 360, "the enrolment box fits"
        screenshot(page, f"7-phone-{section}", app="merchant")
