"""Objections with photos and complaints shown to the merchant, in Chromium against gunicorn: a
citizen files a complaint with a photo on a phone (360x740), and the merchant admin reads the
complaints the office accepted about the shop (1366x768), never who filed them."""
from __future__ import annotations

import re
import secrets

import pytest
import requests

from tests.e2e.test_citizen_pages import citizen_page, objections_forgotten  # noqa: F401  (a fixture)
from tests.e2e.test_merchant_office import sign_in as merchant_sign_in
from tests.e2e.test_office_pages import dining_partner, receipt_png

pytestmark = pytest.mark.e2e
ENGLISH = re.compile(r"[A-Za-z]{3,}")


def test_a_citizen_files_a_complaint_with_a_photo_on_a_phone(live_server, launch, token, screenshot, tmp_path,
                                                             objections_forgotten):  # noqa: F811
    photo = tmp_path / "小票.png"
    photo.write_bytes(receipt_png())
    not_a_photo = tmp_path / "说明.gif"
    not_a_photo.write_bytes(b"GIF89a" + b"\0" * 32)
    page = citizen_page(launch, live_server, token("citizen"))
    page.wait_for_selector("#qr svg", timeout=15000)
    page.click("#tabs [data-view=objections]")
    page.select_option("#objection-kind", "complaint")
    page.wait_for_selector("#objection-partner-row:not([hidden])")
    page.wait_for_function("() => document.querySelectorAll('#objection-partner option').length > 1")
    page.select_option("#objection-partner", label="辣盆盆小龙虾饭店")
    assert "看不到您的姓名" in page.inner_text("#objection-merchant-note")
    text = f"结账时收银员说系统坏了，没有给九八折优惠（{secrets.randbelow(10**6):06d}）"  # digits: letters would read as English below
    page.fill("#objection-text", text)
    # A GIF is turned away on the phone already, in Chinese; the photo is taken.
    page.set_input_files("#objection-photo-input", [str(not_a_photo), str(photo)])
    page.wait_for_function("() => document.querySelectorAll('#objection-photos-picked img').length === 1")
    assert "只能上传手机拍摄或截图的图片" in page.inner_text("#objection-message")
    assert page.inner_text("#objection-photo-count") == "已选 1 / 3 张"
    page.locator("#objection-photo-add").scroll_into_view_if_needed()
    screenshot(page, "objection-photo", app="citizen")
    page.click("#objection-submit")
    page.wait_for_function("() => document.querySelector('#objection-message').textContent.startsWith('已提交')",
                           timeout=15000)
    assert "error" not in (page.get_attribute("#objection-message", "class") or "")
    # The list shows it with its partner, status, due date and the photo fetched with the session.
    page.wait_for_function("() => [...document.querySelectorAll('#objection-list img')].some((i) => i.naturalWidth > 0)",
                           timeout=10000)
    first = page.locator("#objection-list > li").first
    listed = first.inner_text()
    assert "辣盆盆小龙虾饭店" in listed and "已提交" in listed and "答复期限" in listed and "工作日" in listed
    assert not ENGLISH.search(page.inner_text("#view-objections"))
    first.scroll_into_view_if_needed()
    screenshot(page, "objection-filed", app="citizen")
    mine = requests.get(f"{live_server}/api/objections", timeout=10,
                        headers={"Authorization": f"Bearer {token('citizen')}"}).json()["objections"][0]
    assert mine["text"] == text and len(mine["photos"]) == 1 and mine["partner"] == "辣盆盆小龙虾饭店"
    # The photo is the citizen's and the office's: the shop's admin is refused it.
    assert requests.get(f"{live_server}{mine['photos'][0]}", timeout=10,
                        headers={"Authorization": f"Bearer {token('merchant-admin')}"}).status_code == 403


def test_the_merchant_sees_accepted_complaints_about_the_shop_without_who_filed_them(
        live_server, launch, token, screenshot, objections_forgotten):  # noqa: F811
    citizen = {"Authorization": f"Bearer {token('citizen')}"}
    office = {"Authorization": f"Bearer {token('office-admin')}"}
    partner = dining_partner(live_server)
    texts = [f"服务员态度冷淡，拒绝使用信用码 {secrets.randbelow(10**6):06d}", f"九八折没有算进账单 {secrets.randbelow(10**6):06d}",
             f"尚未受理的投诉 {secrets.randbelow(10**6):06d}"]
    ids = []
    for text in texts:
        filed = requests.post(f"{live_server}/api/objections", timeout=10, headers=citizen,
                              json={"kind": "complaint", "partner_id": partner, "text": text})
        assert filed.status_code == 201, filed.text
        ids.append(filed.json()["id"])
    for objection_id in ids[:2]:
        assert requests.post(f"{live_server}/api/office/objections/{objection_id}/accept", timeout=10,
                             headers=office).status_code == 200
    requests.post(f"{live_server}/api/office/objections/{ids[1]}/answer", timeout=10, headers=office,
                  json={"text": "已约谈商户，补发优惠 12.40 元。"})
    phone = requests.get(f"{live_server}/api/auth/me", timeout=10, headers=citizen).json().get("phone") or "13800000000"

    page = launch(desktop=True).new_page()
    merchant_sign_in(page, live_server)
    page.click("#sections [data-section=complaints]")
    page.wait_for_function("() => document.querySelector('#complaints-status').textContent.startsWith('共')",
                           timeout=10000)
    table = page.inner_text("#complaints")
    assert texts[0] in table and texts[1] in table and texts[2] not in table
    assert "已受理" in table and "已办结" in table
    assert "补发优惠 12.40" not in table and phone not in page.inner_text("body")
    assert "不显示投诉人的姓名、手机号、照片" in page.inner_text("#section-complaints")
    screenshot(page, "complaints", app="merchant")
