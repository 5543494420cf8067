"""The office's statistics by area, holder kind and issuing city, in Chinese, with distinct
beneficiaries and the online/offline share, and the audit log's CSV export, in Debian's Chromium at
1366x768 against gunicorn (issue 15 items 3 and 4)."""
from __future__ import annotations

import base64
import csv
import importlib
import io
import os
import time
import uuid
from datetime import datetime, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete

from backend.csvsafe import FORMULA_STARTS
from backend.extensions import db
from backend.office import sketches
from backend.timeutil import SHANGHAI
from tests.helpers import IN_CI, Gunicorn, PassKey

from .test_office_pages import api, dining_perk, open_screen, signed_in  # noqa: F401  (api: a fixture)

pytestmark = pytest.mark.e2e
codec = importlib.import_module("backend.pass.codec")
VISITOR_ISSUER = 130100
HOSTILE = '=HYPERLINK("http://evil.example/","点击")'


@pytest.fixture
def visitor_pass(app, runner):
    """visitor_pass() -> a pass of 石家庄 (a partner city trusted by its public key)."""
    key = Ed25519PrivateKey.generate()
    public = base64.urlsafe_b64encode(key.public_key().public_bytes_raw()).rstrip(b"=").decode()
    result = runner.invoke(args=["pass-keys", "trust", str(VISITOR_ISSUER), "石家庄市信用办", "4", public,
                                 "--not-before", "2025-01-01", "--tier-map", "1=1,2=2,3=3"])
    assert result.exit_code == 0, result.output

    def _token():
        now = int(time.time())
        return codec.encode_pass(private_key=key, issuer=VISITOR_ISSUER, kid=4, kind="person", tier=2,
                                 issued_at=now - 5, expires_at=now + 55, sealed_ref=os.urandom(16))
    yield _token
    with app.app_context():
        issuer = PassKey.issuer.property.mapper.class_
        db.session.execute(delete(PassKey).where(PassKey.issuer_code == VISITOR_ISSUER))
        db.session.execute(delete(issuer).where(issuer.code == VISITOR_ISSUER))
        db.session.commit()


def redeem(api, perk_id: int, token: str, *, amount_fen: int = 8800, **fields) -> dict:  # noqa: F811
    answer = api("cashier", "POST", "/api/redemptions", {
        "token": token, "perk_id": perk_id, "client_id": str(uuid.uuid4()),
        "scanned_at": datetime.now(timezone.utc).isoformat(), "amount_fen": amount_fen, **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()


def table(page) -> list[list[str]]:
    return page.evaluate("() => [...document.querySelectorAll('#stats-table tbody tr, #stats-table tfoot tr')]"
                         ".map((row) => [...row.cells].map((cell) => cell.textContent))")


def show(page, group_by: str) -> list[list[str]]:
    page.select_option("#group-by", group_by)
    page.evaluate("() => { document.querySelector('#chart').dataset.rows = ''; }")
    page.click("#filters button[type=submit]")
    page.wait_for_selector("#chart[data-rows]:not([data-rows=\"\"])", timeout=10000)
    return table(page)


def test_the_dashboard_groups_by_issuing_city_holder_kind_and_area_in_chinese(
        live_server, launch, api, visitor_pass, screenshot, csp_violations):  # noqa: F811
    perk = dining_perk(live_server)
    citizen = api("citizen", "POST", "/api/pass", {}).json()["token"]
    redeem(api, perk, citizen)
    redeem(api, perk, api("citizen", "POST", "/api/pass", {}).json()["token"], queued=True)  # offline, same person
    redeem(api, perk, api("company", "POST", "/api/pass", {"holder": "company"}).json()["token"], amount_fen=20000)
    redeem(api, perk, visitor_pass())  # a visitor from 石家庄

    page = signed_in(launch, live_server, "office-admin")  # Enter in the password field submits
    page.wait_for_selector("#chart[data-rows]:not([data-rows=\"0\"])", timeout=15000)

    by_issuer = show(page, "issuer")
    labels = [row[0] for row in by_issuer]
    assert "石家庄市信用办" in labels and "肇东市社会信用体系建设领导小组办公室" in labels  # by the issuing city's name
    visitors = next(row for row in by_issuer if row[0] == "石家庄市信用办")
    assert visitors[1:3] == ["1", "0"]  # one redemption, no beneficiary counted: sealed by its own city
    assert page.locator("#key-header").inner_text() == "签发城市"
    summary = page.locator("#stats-summary").inner_text()
    assert "离线 1 次" in summary and "受惠主体 2 个" in summary  # the person (twice) and the company
    screenshot(page, "stats-by-issuer", app="office")

    by_kind = {row[0]: row for row in show(page, "holder_kind")}
    assert set(by_kind) == {"个人", "企业", "合计"}
    assert by_kind["个人"][1:3] == ["3", "1"]  # three redemptions (one a visitor's), one person of this city
    assert by_kind["个人"][5:] == ["2", "1", "33.3%"]  # online, offline, the offline share
    screenshot(page, "stats-by-holder-kind", app="office")

    by_tier = show(page, "tier")
    assert "诚信良好" in [row[0] for row in by_tier]
    assert not any(cell in {"good", "basic", "excellent", "person", "company"} for row in by_tier for cell in row)
    assert [row[0] for row in show(page, "area")][:-1] == ["松辽社区"]  # the dining partner's 社区
    screenshot(page, "dashboard-groupings", app="office")

    page.fill("#from", "2026-12-31")
    page.fill("#to", "2026-01-01")
    page.click("#filters button[type=submit]")
    assert page.locator("#stats-error").inner_text() == "开始日期不能晚于结束日期，请重新选择"
    assert csp_violations == []


def test_estimated_beneficiaries_read_as_approximate(app, live_server, launch, api, tmp_path, screenshot,
                                                     csp_violations):  # noqa: F811
    """A server whose exact limit is 0 answers every beneficiaries figure from the sketches: the table
    and the summary say 约 (PostgreSQL with hll; CI's pass has it)."""
    with app.app_context():
        if not sketches.available(db.session):
            message = "the hll extension is not installed on this PostgreSQL (Debian: postgresql-15-hll)"
            if IN_CI:
                pytest.fail(f"CI=true and {message}")
            pytest.skip(message)
    perk = dining_perk(live_server)
    redeem(api, perk, api("citizen", "POST", "/api/pass", {}).json()["token"])
    redeem(api, perk, api("company", "POST", "/api/pass", {"holder": "company"}).json()["token"])
    server = Gunicorn(app, tmp_path / "gunicorn.log", workers=1, env={"STATS_EXACT_BENEFICIARIES_UP_TO": "0"})
    try:
        page = signed_in(launch, server.base, "office-admin")
        page.wait_for_selector("#chart[data-rows]:not([data-rows=\"0\"])", timeout=15000)
        by_kind = {row[0]: row for row in show(page, "holder_kind")}
        assert (by_kind["个人"][2], by_kind["企业"][2], by_kind["合计"][2]) == ("约 1", "约 1", "约 2")
        assert "受惠主体 约 2 个" in page.locator("#stats-summary").inner_text()
        screenshot(page, "stats-approximate-beneficiaries", app="office")
        assert csp_violations == []
    finally:
        server.stop()


def test_the_auditor_exports_the_audit_log_as_filtered(live_server, launch, api, screenshot, csp_violations):  # noqa: F811
    made = redeem(api, dining_perk(live_server), api("citizen", "POST", "/api/pass", {}).json()["token"])
    assert api("office-admin", "POST", f"/api/office/redemptions/{made['id']}/void",
               {"reason": HOSTILE}).status_code == 200

    page = signed_in(launch, live_server, "office-auditor")
    page.wait_for_selector("#audit-table tbody tr", timeout=10000)
    assert page.locator("#audit-screen").is_visible() and page.locator("#tabs [data-tab=stats]").is_visible()
    page.select_option("#audit-action", "redemption.void")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_function("() => [...document.querySelectorAll('#audit-table tbody tr')].every("
                           "(row) => row.cells[2].textContent === '撤销核销')", timeout=10000)
    shown = page.locator("#audit-table tbody tr").count()
    with page.expect_download() as download:
        page.click("#audit-export")
    assert download.value.suggested_filename == "审计日志.csv"
    text = download.value.path().read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == ["编号", "时间（北京时间）", "操作人", "操作", "对象", "详情"]
    assert len(rows) - 1 == shown and {row[3] for row in rows[1:]} == {"redemption.void"}
    assert any(f"redemption:{made['id']}" == row[4] and "HYPERLINK" in row[5] for row in rows[1:])
    assert not any(cell.startswith(FORMULA_STARTS) for row in rows for cell in row)
    screenshot(page, "audit-export", app="office")

    page.fill("#audit-from", "2026-12-31")
    page.fill("#audit-to", "2026-01-01")
    page.click("#audit-export")
    assert page.locator("#audit-status").inner_text() == "开始日期不能晚于结束日期，请重新选择"
    # The cases of today, as a table for people.
    today = datetime.now(timezone.utc).astimezone(SHANGHAI).date().isoformat()
    page.fill("#cases-from", today)
    page.fill("#cases-to", today)
    with page.expect_download() as download:
        page.click("#cases-export button[type=submit]")
    assert download.value.suggested_filename == f"激励案例-{today}-{today}.csv"
    cases = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"), newline="")))
    assert cases[0][:3] == ["类型", "时间（北京时间）", "合作单位"]
    assert sorted(row[0] for row in cases[1:]) == ["撤销", "核销"]
    open_screen(page, "stats")  # the auditor may read the statistics too, but lands on the audit
    page.wait_for_selector("#chart[data-rows]", timeout=10000)
    assert csp_violations == []
