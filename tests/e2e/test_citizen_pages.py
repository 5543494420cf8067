"""The citizen's page /m/ in Chromium at 360x740: a code that never goes blank while it is valid
(the network cut by the browser), the company switch, my credit, my history, objections, sign-out,
the large-text mode, and axe-core's accessibility rules."""
from __future__ import annotations

import re
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parents[2] / "backend" / "web" / "node_modules" / "axe-core" / "axe.min.js"
ENGLISH = re.compile(r"[A-Za-z]{3,}")


def citizen_page(launch, live_server, token: str, *, context=None):
    context = context or launch()
    page = context.new_page()
    page.goto(f"{live_server}/m/#token={token}")
    return page


def seconds_left(page) -> int:
    return int(re.search(r"(\d+) 秒", page.inner_text("#countdown")).group(1))


def visible_text(page) -> str:
    return page.inner_text("body")


def redeem(live_server, token, *, citizen="citizen", amount_fen=5000) -> dict:
    issued = requests.post(f"{live_server}/api/pass", json={}, timeout=10,
                           headers={"Authorization": f"Bearer {token(citizen)}"}).json()
    perk_id = next(p for p in requests.get(f"{live_server}/api/partners", timeout=10).json()["partners"]
                   if p["name"] == "辣盆盆小龙虾饭店")["perks"][0]["id"]
    response = requests.post(f"{live_server}/api/redemptions", timeout=10, headers={
        "Authorization": f"Bearer {token('cashier')}"}, json={
        "token": issued["token"], "perk_id": perk_id, "client_id": str(uuid.uuid4()),
        "scanned_at": datetime.now(timezone.utc).isoformat(), "amount_fen": amount_fen})
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def objections_forgotten(app):
    """Objections name redemptions, which tests/conftest.py deletes after each test (and not
    objections): delete them first, or PostgreSQL's foreign key refuses that clean-up."""
    yield
    from backend.extensions import db
    with app.app_context():
        db.session.execute(db.text("delete from objections"))
        db.session.commit()


def axe_violations(page) -> list[str]:
    """Serious and critical axe-core violations of what the page shows now (WCAG 2.x A and AA)."""
    page.evaluate(AXE.read_text(encoding="utf-8"))  # through DevTools, so the page's policy is not loosened
    results = page.evaluate("""() => axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}})""")
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']]}"
            for v in results["violations"] if v["impact"] in ("serious", "critical")]


# -- 16.1: the code never goes blank while it is valid ----------------------------------------------

def test_offline_the_code_stays_with_a_running_countdown_and_the_page_recovers_by_itself(
        live_server, launch, token, screenshot):
    context = launch()
    page = citizen_page(launch, live_server, token("citizen"), context=context)
    page.wait_for_selector("#qr svg", timeout=15000)
    first_code = page.inner_html("#qr")

    context.set_offline(True)
    page.click("#refresh")  # the refresh that fails, as the one at 45 s would
    page.wait_for_function("() => document.querySelector('#countdown').textContent.startsWith('离线，此码仍可使用')")
    assert page.inner_html("#qr") == first_code, "a valid code must stay on screen"
    before = seconds_left(page)
    page.wait_for_timeout(2200)
    assert 0 < seconds_left(page) < before, "the countdown keeps running offline"
    assert page.locator("#qr svg").is_visible()
    text = visible_text(page)
    assert not ENGLISH.search(text), text
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "offline", app="citizen")

    context.set_offline(False)
    page.wait_for_function("() => document.querySelector('#countdown').textContent.endsWith('秒后失效')",
                           timeout=20000)
    assert page.inner_html("#qr") != first_code, "back online, a new code replaces the old one by itself"
    assert "离线" not in visible_text(page)


def test_failed_refreshes_are_retried_with_backoff_until_one_gets_through(live_server, launch, token):
    """No offline event here: requests fail at the network level (as behind a dead Wi-Fi), and
    the retries alone, 2 s then 4 s apart, bring a new code."""
    page = citizen_page(launch, live_server, token("citizen"))
    page.wait_for_selector("#qr svg", timeout=15000)
    first_code = page.inner_html("#qr")
    attempts = []

    def fail_twice(route):
        attempts.append(page.evaluate("() => Date.now()"))
        if len(attempts) <= 2:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/api/pass/qr.svg*", fail_twice)
    page.click("#refresh")
    page.wait_for_function("() => document.querySelector('#countdown').textContent.startsWith('离线，此码仍可使用')")
    assert page.inner_html("#qr") == first_code
    page.wait_for_function("() => document.querySelector('#countdown').textContent.endsWith('秒后失效')",
                           timeout=15000)
    assert len(attempts) == 3 and page.inner_html("#qr") != first_code
    first_wait, second_wait = attempts[1] - attempts[0], attempts[2] - attempts[1]
    assert 1500 <= first_wait < second_wait, (first_wait, second_wait)


def test_a_page_opened_without_network_asks_to_go_online_and_shows_the_code_once_it_can(live_server, launch, token):
    context = launch()
    page = context.new_page()
    page.route("**/api/**", lambda route: route.abort("internetdisconnected"))
    page.goto(f"{live_server}/m/#token={token('citizen')}")
    page.wait_for_selector("#qr-expired:not([hidden])", timeout=15000)
    assert page.inner_text("#qr-expired").split() == ["暂未取得信用码", "请联网刷新"]
    assert not ENGLISH.search(visible_text(page))
    page.unroute("**/api/**")
    page.wait_for_selector("#qr svg", timeout=20000)


def test_an_expired_code_gives_way_to_a_request_to_go_online_never_a_stale_qr(live_server, launch, token, screenshot):
    context = launch()
    page = context.new_page()
    page.clock.install()
    page.goto(f"{live_server}/m/#token={token('citizen')}")
    page.wait_for_selector("#qr svg", timeout=15000)
    context.set_offline(True)
    page.clock.fast_forward("02:00")  # past the code's expiry, and past every retry
    page.wait_for_selector("#qr-expired:not([hidden])")
    assert page.locator("#qr svg").count() == 0
    text = visible_text(page)
    assert "请联网刷新" in text and not ENGLISH.search(text), text
    screenshot(page, "expired", app="citizen")

    context.set_offline(False)
    page.wait_for_selector("#qr svg", timeout=20000)
    assert page.locator("#qr-expired").is_hidden()


# -- 16.2: a representative chooses the company's pass or their own -------------------------------

def test_a_company_representative_switches_between_the_company_pass_and_their_own(live_server, launch, token,
                                                                                  screenshot):
    page = citizen_page(launch, live_server, token("company"))
    page.wait_for_selector("#qr svg", timeout=15000)
    assert page.locator("#holder-switch").is_visible()
    assert page.inner_text("#holder-kind") == "企业信用码"
    assert page.get_attribute("#holder-switch [data-holder=company]", "aria-checked") == "true"
    screenshot(page, "company", app="citizen")

    page.click("#holder-switch [data-holder=person]")  # the demo representative has not bound an identity
    page.wait_for_selector("#bind:not([hidden])")
    assert page.locator("#qr svg").count() == 0

    page.reload()  # the choice is kept on the phone
    page.wait_for_selector("#bind:not([hidden])", timeout=15000)
    page.click("#holder-switch [data-holder=company]")
    page.wait_for_selector("#qr svg")
    assert page.inner_text("#holder-kind") == "企业信用码"

    page.click("#tabs [data-view=credit]")
    page.wait_for_function("() => document.querySelector('#credit-kind').textContent === '企业信用'")


def test_a_citizen_without_a_company_sees_no_switch(live_server, launch, token):
    page = citizen_page(launch, live_server, token("citizen"))
    page.wait_for_selector("#qr svg", timeout=15000)
    assert page.locator("#holder-switch").is_hidden()


# -- 16.4, 16.5: my credit, and the routes out for a black-listed citizen -------------------------

def test_my_credit_says_why_and_what_the_tier_unlocks(live_server, launch, token, screenshot):
    page = citizen_page(launch, live_server, token("citizen"))
    page.wait_for_selector("#qr svg", timeout=15000)
    page.click("#tabs [data-view=credit]")
    page.wait_for_selector("#credit-reasons li")
    assert page.inner_text("#credit-tier") == "诚信良好"
    assert page.inner_text("#credit-verdict") == "可以享受信易+激励"
    assert "诚信积分" in page.inner_text("#credit-reasons")
    assert "辣盆盆小龙虾饭店" in page.inner_text("#credit-perks")
    screenshot(page, "credit", app="citizen")


def test_a_black_listed_citizen_sees_why_and_the_routes_never_a_blank_box(live_server, launch, token, screenshot):
    page = citizen_page(launch, live_server, token("citizen-blacklisted"))
    page.wait_for_selector("#pass-reasons li", timeout=15000)
    assert "失信" in page.inner_text("#pass-error")
    assert "黑名单" in page.inner_text("#pass-reasons")
    assert page.locator("#qr").is_hidden() and page.locator("#pass-to-credit").is_visible()
    screenshot(page, "blacklisted", app="citizen")

    page.click("#pass-to-credit")
    page.wait_for_selector("#credit-routes li")
    routes = page.inner_text("#credit-routes")
    assert "信用修复" in routes and "异议" in routes and "政务服务中心" in routes
    assert "黑名单" in page.inner_text("#credit-verdict")
    assert page.inner_text("#credit-perks").strip(), "never a blank box"
    screenshot(page, "credit-blacklisted", app="citizen")


# -- 16.6, 16.7: my history, objections and the office's answer -------------------------------------

def test_history_pages_through_and_shows_voided_redemptions(live_server, launch, token, screenshot):
    made = [redeem(live_server, token, amount_fen=1000 + i) for i in range(21)]
    voided = requests.post(f"{live_server}/api/redemptions/{made[-1]['id']}/void", json={"reason": "顾客退单"},
                           headers={"Authorization": f"Bearer {token('cashier')}"}, timeout=10)
    assert voided.status_code == 200, voided.text

    page = citizen_page(launch, live_server, token("citizen"))
    page.wait_for_selector("#qr svg", timeout=15000)
    page.click("#tabs [data-view=history]")
    page.wait_for_selector("#history-list li")
    assert page.locator("#history-list > li").count() == 20
    first = page.locator("#history-list > li").first
    assert "已撤销" in first.inner_text() and "辣盆盆小龙虾饭店" in first.inner_text()
    assert "¥10.20" in first.inner_text()  # integer fen, formatted once
    screenshot(page, "history", app="citizen")
    page.click("#history-more")
    page.wait_for_function("() => document.querySelectorAll('#history-list > li').length > 20")


def test_objections_are_filed_listed_with_their_due_date_and_answered(live_server, launch, token, screenshot,
                                                                     objections_forgotten):
    redeemed = redeem(live_server, token)
    page = citizen_page(launch, live_server, token("citizen"))
    page.wait_for_selector("#qr svg", timeout=15000)

    page.click("#tabs [data-view=objections]")
    page.fill("#objection-text", "我的诚信积分应为 1150 分，等级有误")
    page.click("#objection-submit")
    page.wait_for_function("() => document.querySelector('#objection-message').textContent.startsWith('已提交')")
    color = page.eval_on_selector("#objection-message", "e => getComputedStyle(e).color")
    red, green, _ = map(int, re.findall(r"\d+", color)[:3])
    assert green > red, f"a success message is not red: {color}"

    page.click("#tabs [data-view=history]")
    page.wait_for_selector("#history-list li")
    page.locator("#history-list > li").first.locator("button").click()
    page.wait_for_selector("#objection-redemption-row:not([hidden])")
    assert page.input_value("#objection-redemption") == str(redeemed["id"])
    page.fill("#objection-text", "这次消费没有享受到优惠")
    page.click("#objection-submit")
    page.wait_for_function("() => document.querySelector('#objection-message').textContent.startsWith('已提交')")

    mine = requests.get(f"{live_server}/api/objections", timeout=10,
                        headers={"Authorization": f"Bearer {token('citizen')}"}).json()["objections"]
    assert mine[0]["redemption_id"] == redeemed["id"]
    answered = requests.post(f"{live_server}/api/office/objections/{mine[1]['id']}/answer", timeout=10,
                             json={"text": "经核实，积分已于本月更正。"},
                             headers={"Authorization": f"Bearer {token('office-admin')}"})
    assert answered.status_code == 200, answered.text

    page.click("#tabs [data-view=credit]")
    page.click("#tabs [data-view=objections]")
    page.wait_for_function("() => document.querySelector('#objection-list').textContent.includes('积分已于本月更正')")
    listed = page.inner_text("#objection-list")
    assert "已办结" in listed and "已提交" in listed and "答复期限" in listed
    page.locator("#objection-list").scroll_into_view_if_needed()
    screenshot(page, "objections", app="citizen")


def test_a_short_objection_is_refused_in_red_with_the_servers_words(live_server, launch, token):
    page = citizen_page(launch, live_server, token("citizen"))
    page.wait_for_selector("#qr svg", timeout=15000)
    page.click("#tabs [data-view=objections]")
    page.fill("#objection-text", "不对")
    page.click("#objection-submit")
    page.wait_for_function("() => document.querySelector('#objection-message').textContent.includes('至少 5 个字')")
    assert "error" in page.get_attribute("#objection-message", "class")


# -- 16.10: sign out, switch account ----------------------------------------------------------------

def test_switch_account_signs_out_and_asks_for_the_other_account(live_server, launch, token):
    context = launch()
    page = citizen_page(launch, live_server, token("citizen"), context=context)
    page.wait_for_selector("#qr svg", timeout=15000)
    page.click("#switch-account")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.inner_text("#signin-error") == "请登录要切换到的账号"
    assert page.evaluate("() => localStorage.getItem('xym.citizen.access')") is None
    assert page.locator("#tabs").is_hidden() and page.locator("#account").is_hidden()
    page.goto(f"{live_server}/m/#token={token('company')}")
    page.wait_for_selector("#qr svg", timeout=15000)
    assert page.inner_text("#holder-kind") == "企业信用码"


# -- 16.9: large text, contrast, axe-core -----------------------------------------------------------

def test_large_text_is_kept_on_the_device(live_server, launch, token, screenshot):
    page = citizen_page(launch, live_server, token("citizen"))
    page.wait_for_selector("#qr svg", timeout=15000)
    page.click("#large-text")
    assert page.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "21px"
    page.reload()
    page.wait_for_selector("#qr svg", timeout=15000)
    assert page.get_attribute("#large-text", "aria-pressed") == "true"
    assert page.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "21px"
    # Nothing is cut off: no element is wider than the phone's screen.
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    screenshot(page, "large-text", app="citizen")
    page.click("#tabs [data-view=credit]")
    page.wait_for_selector("#credit-reasons li")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    screenshot(page, "credit-large-text", app="citizen")


@pytest.mark.parametrize("role", ["citizen", "citizen-blacklisted"])
def test_axe_finds_no_serious_violation_on_any_view(live_server, launch, token, role):
    page = citizen_page(launch, live_server, token(role))
    page.wait_for_selector("#pass:not([hidden])", timeout=15000)
    page.wait_for_load_state("networkidle")
    found = {"pass": axe_violations(page)}
    for view, ready in (("credit", "#credit-reasons li"), ("history", "#history-list li, #history-empty:not([hidden])"),
                        ("objections", "#objection-list li, #objection-empty:not([hidden])")):
        page.click(f"#tabs [data-view={view}]")
        page.wait_for_selector(ready)
        found[view] = axe_violations(page)
    page.click("#large-text")
    found["large-text"] = axe_violations(page)
    page.click("#logout")
    page.wait_for_selector("#signin:not([hidden])")
    found["signin"] = axe_violations(page)
    assert all(not v for v in found.values()), found
