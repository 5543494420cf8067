"""Each page works under its Content-Security-Policy in Chromium: no violation, inline or otherwise.

Every browser context of the e2e tests reports violations (conftest.watch_csp: the
`securitypolicyviolation` event in any frame, and Chromium's console line) and a test with one
fails at teardown. These tests add what the others do not exercise: the headers as the browser
received them, the office chart's tooltip (HTML that ECharts builds), and the screenshots of the
citizen's and the office's screens.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
import requests


pytestmark = pytest.mark.e2e


def header_policy(response) -> str:
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "'unsafe-inline'" not in policy
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    return policy


def test_the_citizen_page_shows_the_pass_under_its_policy(live_server, launch, token, screenshot, csp_violations):
    page = launch().new_page()
    response = page.goto(f"{live_server}/m/#token={token('citizen')}")
    assert "script-src 'self';" in header_policy(response)
    page.wait_for_selector("#qr svg", timeout=15000)
    page.wait_for_selector("#partner-list li")
    screenshot(page, "pass", app="citizen")
    page.click("#refresh")
    page.wait_for_selector("#qr svg")
    page.click("#logout")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.inner_text("#signin-error") == "已退出登录"
    assert csp_violations == []


def test_the_office_dashboard_chart_and_tooltip_work_under_its_policy(live_server, launch, token, screenshot,
                                                                      csp_violations):
    issued = requests.post(f"{live_server}/api/pass", json={}, timeout=10,
                           headers={"Authorization": f"Bearer {token('citizen')}"}).json()
    perk_id = next(p for p in requests.get(f"{live_server}/api/partners", timeout=10).json()["partners"]
                   if p["name"] == "辣盆盆小龙虾饭店")["perks"][0]["id"]
    assert requests.post(f"{live_server}/api/redemptions", timeout=10, headers={
        "Authorization": f"Bearer {token('cashier')}"}, json={
        "token": issued["token"], "perk_id": perk_id, "client_id": str(uuid.uuid4()),
        "scanned_at": datetime.now(timezone.utc).isoformat(), "amount_fen": 12850}).status_code == 201

    page = launch(desktop=True).new_page()
    response = page.goto(f"{live_server}/office/")
    assert "script-src 'self';" in header_policy(response)
    page.fill("#username", "office-admin")
    page.fill("#password", "demo-password")
    page.click("#login")
    page.wait_for_selector("#chart[data-rows]:not([data-rows=\"0\"])", timeout=15000)
    # Money is integer fen formatted once: 128.50 yuan is "128.50", never 128.5 or 128.49999.
    assert "128.50" in page.inner_text("#stats-table")
    box = page.locator("#chart").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(600)  # the tooltip, drawn on the canvas
    screenshot(page, "dashboard", app="office")
    assert csp_violations == []


def test_the_scanner_runs_the_wasm_decoder_under_its_policy(live_server, launch, issue_pass, csp_violations):
    context = launch(issue_pass("citizen")["token"])
    page = context.new_page()
    response = page.goto(f"{live_server}/scanner/?detector=zxing")
    policy = header_policy(response)
    assert "'wasm-unsafe-eval'" in policy and "'unsafe-eval'" not in policy
    page.wait_for_selector("#screen-enrol:not([hidden])")
    # The zxing module is compiled from our server's .wasm in the page itself.
    kind = page.evaluate("import('./src/platform.js').then(m => m.getDetector()).then(d => d.kind)")
    assert kind == "zxing-wasm"
    assert csp_violations == []


def test_a_violation_is_caught(live_server, launch, csp_violations):
    """The watch itself: an inline script the policy refuses is reported, so the tests above can fail."""
    page = launch().new_page()
    page.goto(f"{live_server}/m/")
    page.evaluate("""() => {
        const s = document.createElement('script');
        s.textContent = 'window.injected = true';
        document.body.append(s);
    }""")
    page.wait_for_timeout(200)
    assert page.evaluate("window.injected") is None
    assert any("script-src" in v for v in csp_violations), csp_violations
    csp_violations.clear()  # expected here: the fixture's own check must not fail this test
