"""The merchant scanner in a real browser: camera -> verdict -> redemption, offline, tampered.

Timings come from the app's own User Timing entries (performance.measure, src/timing.js): from
the capture time of the camera frame that held the QR to the painted verdict, and from the tap on
"confirm" to the server's recorded answer on screen.
"""
from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest
import requests
from sqlalchemy import select

from backend.extensions import db
from backend.merchants.models import Redemption

from tests.helpers import tamper

pytestmark = pytest.mark.e2e

DINING = "辣盆盆小龙虾饭店"


def redemptions(app, **where):
    with app.app_context():
        query = select(Redemption)
        for name, value in where.items():
            query = query.where(getattr(Redemption, name) == value)
        rows = [SimpleNamespace(**{c.key: getattr(r, c.key) for c in Redemption.__table__.columns})
                for r in db.session.scalars(query)]
        db.session.rollback()
        return rows


def api_paths(live_server) -> set[str]:
    """What the API serves now (the backend grows while these tests run against it)."""
    return set(requests.get(f"{live_server}/api/openapi.json", timeout=5).json()["paths"])


def enrol(page, app, live_server, token, runner, path="/scanner/"):
    """Enrol the page's scanner for the demo restaurant the way a cashier would."""
    page.goto(f"{live_server}{path}")
    page.wait_for_selector("#screen-enrol:not([hidden])")
    paths = api_paths(live_server)
    if "/api/devices/enrol" in paths:
        result = runner.invoke(args=["demo", "enrolment-code"])
        assert result.exit_code == 0, result.output
        page.fill("#enrol-code", result.output.strip().splitlines()[-1])
        page.fill("#enrol-name", "收银台1")
        page.click("#enrol-submit")
        page.wait_for_selector("#screen-enrol", state="hidden")
        return "enrolment code"
    cashier = token("cashier")
    if "/api/merchant/me" in paths:
        page.click(".fallback summary")
        page.fill("#token-input", cashier)
        page.click("#token-form button")
        return "cashier token"
    # Neither enrolment endpoint exists yet: put the session where the app keeps it.
    partners = requests.get(f"{live_server}/api/partners", timeout=5).json()["partners"]
    partner = next(p for p in partners if p["name"] == DINING)
    session = {"token": cashier, "kind": "staff", "device": None, "partner": partner, "perk_id": None}
    page.evaluate("s => localStorage.setItem('xym.scanner.session', JSON.stringify(s))", session)
    page.reload()
    return "injected session (no enrolment endpoint yet)"


def wait_verdict(page, timeout=20000):
    page.wait_for_selector("#screen-verdict:not([hidden])", timeout=timeout)
    return page.get_attribute("#verdict-card", "data-code")


SCANS = "performance.getEntriesByName('scanner:scan')"
REDEMPTIONS = "performance.getEntriesByName('scanner:redemption')"


def timings(page) -> dict:
    """{"scans": [...], "redemptions": [...]}: the `detail` of the scanner's performance measures."""
    return page.evaluate(f"({{scans: {SCANS}.map(e => e.detail), redemptions: {REDEMPTIONS}.map(e => e.detail)}})")


def report(label: str, values: dict):
    print(f"\n[scanner timing] {label}: " + json.dumps(values, ensure_ascii=False))


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def test_camera_scan_verdict_and_redemption(app, live_server, launch, issue_pass, token, runner, screenshot):
    issued = issue_pass("citizen")
    context = launch(issued["token"])
    page = context.new_page()
    errors, hosts = [], set()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: hosts.add(r.url.split("/")[2]) if r.url.startswith("http") else None)
    page.goto(f"{live_server}/scanner/")
    page.wait_for_selector("#screen-enrol:not([hidden])")
    screenshot(page, "1-enrol")
    how = enrol(page, app, live_server, token, runner)
    print(f"\n[scanner] enrolled by {how}")

    assert wait_verdict(page) == "ok"
    assert page.inner_text("#verdict-title") == issued["tier_name"]
    assert "可享受优惠" in page.inner_text("#verdict-sub")
    page.wait_for_function(f"() => {SCANS}.length > 0")
    screenshot(page, "4-verdict-ok")
    # More samples: "取消" sends the camera back to the same code, which is read and verified anew.
    for n in range(2, 11):
        page.click("#next")
        page.wait_for_function(f"() => {SCANS}.length >= {n}")
        assert wait_verdict(page) == "ok"
    scans = timings(page)["scans"]
    scan = scans[0]

    page.fill("#amount", "128.50")
    assert "¥125.93" in page.inner_text("#payable")  # (12850 * 980 + 500) // 1000 = 12593 fen
    screenshot(page, "5-amount")
    page.click("#confirm")
    page.wait_for_selector('#verdict-card[data-code="recorded"]', timeout=15000)
    assert "¥125.93" in page.inner_text("#verdict-note")
    screenshot(page, "6-recorded")
    page.wait_for_function(f"() => {REDEMPTIONS}.length > 0")
    redeemed = timings(page)["redemptions"][0]

    rows = redemptions(app, client_id=redeemed["client_id"])
    assert len(rows) == 1
    assert (rows[0].amount_fen, rows[0].payable_fen, rows[0].discount_fen) == (12850, 12593, 257)
    assert rows[0].offline is False

    detector = page.evaluate("document.querySelector('#video').srcObject ? 'camera on' : 'camera off'")
    frame_ms = sorted(s["frame_to_verdict_ms"] for s in scans)
    report("camera frame -> verdict (ms)", {
        "first_scan": scan["frame_to_verdict_ms"], "samples": len(frame_ms),
        "median": frame_ms[len(frame_ms) // 2], "max": frame_ms[-1],
        "detect_to_verdict_median": sorted(s["detect_to_verdict_ms"] for s in scans)[len(scans) // 2],
        "verify_ms_median": sorted(round(s["verified_ts"] - s["detected_ts"], 1) for s in scans)[len(scans) // 2],
        "frame_time_from": scan["frame_source"], "camera": detector, "decoder": "zxing-wasm",
        "signature": "WebCrypto",
    })
    report("confirm -> recorded redemption (ms)", {"confirm_to_recorded_ms": redeemed["confirm_to_recorded_ms"]})

    # The same pass again, by hand: refused on this device without asking the server.
    page.click("#next")
    page.wait_for_selector("#screen-scan:not([hidden])")
    page.fill("#manual-input", issued["token"])
    page.click("#manual-form button")
    assert wait_verdict(page) == "pass_already_used"
    page.click("#next")

    page.click('.tabs button[data-tab="today"]')
    page.wait_for_selector("#records li[data-state]")
    screenshot(page, "7-today")
    page.click('.tabs button[data-tab="settings"]')
    page.wait_for_selector("#facts dt")
    facts = page.inner_text("#facts")
    assert "WebCrypto" in facts
    assert "zxing-wasm" in facts  # desktop Linux Chromium has no native BarcodeDetector
    screenshot(page, "8-settings")
    page.click("#change-perk")
    page.wait_for_selector("#screen-perk:not([hidden])")
    screenshot(page, "2-perk")
    page.click("#perk-list button")
    page.wait_for_selector("#screen-scan:not([hidden])")
    assert not errors, errors
    assert hosts == {live_server.split("/")[2]}, f"the scanner fetched from elsewhere (a CDN?): {hosts}"


def test_offline_scan_is_queued_then_synced_exactly_once(app, live_server, launch, issue_pass, token, runner,
                                                         screenshot):
    issued = issue_pass("citizen")
    context = launch(issued["token"])
    page = context.new_page()
    page.goto(f"{live_server}/scanner/")
    enrol(page, app, live_server, token, runner)
    page.wait_for_selector("#screen-scan:not([hidden]), #screen-verdict:not([hidden])")
    # The service worker has cached the shell and the wasm: the app must now start with no network.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15000)

    context.set_offline(True)
    page.reload()
    assert wait_verdict(page) == "ok", "the pass is verified offline against the cached key list"
    assert page.inner_text("#chip-net") == "离线"
    page.fill("#amount", "100")
    page.click("#confirm")
    page.wait_for_selector('#verdict-card[data-code="queued"]', timeout=10000)
    assert page.inner_text("#verdict-title") == "已离线保存"
    assert "联网后自动同步" in page.inner_text("#verdict-sub")
    screenshot(page, "9-offline-queued")
    client_id = timings(page)["redemptions"][0]["client_id"]
    assert redemptions(app, client_id=client_id) == []
    assert page.inner_text("#chip-pending") == "待同步 1"

    started = time.monotonic()
    context.set_offline(False)
    page.wait_for_selector("#chip-pending", state="hidden", timeout=20000)
    synced_after = time.monotonic() - started
    rows = redemptions(app, client_id=client_id)
    assert len(rows) == 1 and rows[0].offline is True
    assert (rows[0].amount_fen, rows[0].payable_fen) == (10000, 9800)

    # A retry of the same item (forced sync, and the same body sent again) never adds a row.
    page.click('.tabs button[data-tab="settings"]')
    page.click("#sync-now")
    page.wait_for_timeout(500)
    assert len(redemptions(app, pass_id=rows[0].pass_id)) == 1
    report("offline queue -> synced after network returned (s)", {"sync_s": round(synced_after, 2)})


def test_tampered_pass_is_refused_offline(app, live_server, launch, issue_pass, token, runner, screenshot):
    issued = issue_pass("citizen")
    context = launch(tamper(issued["token"]))
    page = context.new_page()
    page.goto(f"{live_server}/scanner/")
    enrol(page, app, live_server, token, runner)
    page.wait_for_selector("#screen-scan:not([hidden]), #screen-verdict:not([hidden])")
    context.set_offline(True)
    assert wait_verdict(page) == "pass_invalid"
    assert page.inner_text("#verdict-title") == "信用码无效"
    assert "篡改或伪造" in page.inner_text("#verdict-sub")
    assert page.is_hidden("#confirm")
    screenshot(page, "10-refused-tampered")
    scan = timings(page)["scans"][0]
    report("tampered pass refused (ms)", {"frame_to_verdict_ms": scan["frame_to_verdict_ms"], "code": scan["code"]})

    # And by hand, still offline: a text missing its last byte is refused with its own reason.
    page.click("#next")
    page.fill("#manual-input", issued["token"][:-2])
    page.click("#manual-form button")
    assert wait_verdict(page) == "pass_invalid"
    assert "不完整" in page.inner_text("#verdict-sub")
    assert redemptions(app) == []


def test_noble_fallback_verifies_in_the_browser(app, live_server, launch, issue_pass, token, runner, screenshot):
    """The path WeChat's browser and older phones take when WebCrypto has no Ed25519."""
    issued = issue_pass("company")
    context = launch(None)  # Chromium's own test pattern: a camera with no code in view
    page = context.new_page()
    enrol(page, app, live_server, token, runner, path="/scanner/?engine=noble")
    page.wait_for_selector("#screen-scan:not([hidden])")
    page.wait_for_function("() => document.querySelector('#video').readyState >= 2")
    screenshot(page, "3-scan")
    context.set_offline(True)
    page.fill("#manual-input", issued["token"])
    page.click("#manual-form button")
    assert wait_verdict(page) == "ok"
    assert page.inner_text("#verdict-title") == issued["tier_name"]
    assert "企业" in page.inner_text("#verdict-sub")
    page.click("#next")
    page.fill("#manual-input", tamper(issued["token"]))
    page.click("#manual-form button")
    assert wait_verdict(page) == "pass_invalid"
    page.click("#next")
    page.click('.tabs button[data-tab="settings"]')
    page.wait_for_selector("#facts dt")
    assert "@noble/ed25519" in page.inner_text("#facts")


def test_today_list_and_void_within_the_window(app, live_server, launch, issue_pass, token, runner, screenshot):
    paths = api_paths(live_server)
    if not any(p.startswith("/api/redemptions/") and p.endswith("/void") for p in paths):
        pytest.skip("POST /api/redemptions/<id>/void is not in the API yet")
    issued = issue_pass("citizen")
    context = launch(None)
    page = context.new_page()
    enrol(page, app, live_server, token, runner)
    page.wait_for_selector("#screen-scan:not([hidden])")
    page.fill("#manual-input", issued["token"])
    page.click("#manual-form button")
    assert wait_verdict(page) == "ok"
    page.fill("#amount", "50")
    page.click("#confirm")
    page.wait_for_selector('#verdict-card[data-code="recorded"]', timeout=15000)
    page.click("#next")
    page.click('.tabs button[data-tab="today"]')
    page.wait_for_selector('#records li[data-state="synced"]')
    if "GET" in requests.options(f"{live_server}/api/redemptions", timeout=5).headers.get("Allow", ""):
        assert page.inner_text("#today-source") == "含本店所有设备的记录"
    page.click('#records li[data-state="synced"] .void-row .btn')
    page.click('#records li[data-state="synced"] .void-row .btn:has-text("误扫")')
    page.wait_for_selector('#records li[data-state="voided"]', timeout=10000)
    screenshot(page, "11-today-voided")
    [row] = redemptions(app, pass_id=redemptions(app)[0].pass_id)
    assert row.status == "voided" and row.void_reason == "误扫"


def test_enrol_by_scanning_the_admins_code(app, live_server, launch, runner):
    """The merchant admin shows the one-time code as a QR; the new phone scans it and is enrolled."""
    if "/api/devices/enrol" not in api_paths(live_server):
        pytest.skip("POST /api/devices/enrol is not in the API yet")
    result = runner.invoke(args=["demo", "enrolment-code"])
    assert result.exit_code == 0, result.output
    code = result.output.strip().splitlines()[-1]
    context = launch(code)
    page = context.new_page()
    page.goto(f"{live_server}/scanner/")
    page.fill("#enrol-name", "前台扫码机")
    page.click("#enrol-scan")
    page.wait_for_selector("#screen-scan:not([hidden])", timeout=20000)
    assert page.inner_text("#partner-name") == DINING
    page.click('.tabs button[data-tab="settings"]')
    page.wait_for_selector("#facts dt")
    assert "前台扫码机" in page.inner_text("#facts")
    # The code was spent: a second phone cannot use it.
    again = requests.post(f"{live_server}/api/devices/enrol", json={"code": code, "name": "x"}, timeout=5)
    assert again.status_code in (400, 404) and again.json()["code"] == "enrolment_code_invalid"
