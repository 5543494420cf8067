"""The public 公示 page /gongshi/ in Chromium at 360x740, without signing in: every partner once, each
perk with its conditions, the scenario filter and the search, under the page's policy and axe-core."""
from __future__ import annotations

import uuid

import pytest
import requests

from tests.e2e.test_citizen_pages import ENGLISH, axe_violations

pytestmark = pytest.mark.e2e


@pytest.fixture
def quota_partner(live_server, token):
    """A partner whose perk has every condition the directory can show: quotas by tier, a daily
    limit, a holiday calendar, dates, time-of-day windows, person and company, and opening hours;
    taken out of the directory afterwards. Its name is new each time (names are unique in an area)."""
    office = {"Authorization": f"Bearer {token('office-admin')}"}
    partner = requests.post(f"{live_server}/api/office/partners", headers=office, timeout=10, json={
        "name": f"肇东市测试书画馆{uuid.uuid4().int % 10**4:04d}", "scenario_code": "art_class", "address": "肇东市测试路 1 号",
        "hours": "周二至周日 08:30-17:00"}).json()
    perk = requests.post(f"{live_server}/api/office/partners/{partner['id']}/perks", headers=office, timeout=10, json={
        "kind": "extra_quota", "title": "守信读者多借图书", "holder_kinds": ["person", "company"], "min_tier": "good",
        "quota_by_tier": {"good": 4, "excellent": 6}, "quota_unit": "册", "limit_per_holder_per_day": 1,
        "blackout_calendar": "major_holidays", "active_from": "2026-01-01", "active_until": "2027-12-31",
        "time_windows": ["08:30-11:30", "13:30-17:00"]})
    assert perk.status_code == 201, perk.text
    yield partner
    requests.patch(f"{live_server}/api/office/partners/{partner['id']}", headers=office, json={"active": False},
                   timeout=10)


def test_every_partner_once_with_its_perks_conditions_and_address(live_server, launch, screenshot, quota_partner):
    partners = requests.get(f"{live_server}/api/partners", timeout=10).json()["partners"]
    page = launch().new_page()
    response = page.goto(f"{live_server}/gongshi/")
    assert "script-src 'self';" in response.headers["content-security-policy"]
    page.wait_for_selector("#directory li")
    names = page.locator("#directory h2").all_inner_texts()
    assert sorted(names) == sorted({p["name"] for p in partners}) and len(names) == len(set(names))
    assert page.inner_text("#summary") == f"共 {len(names)} 家合作单位"
    dining = page.locator("#directory > li").filter(has_text="辣盆盆小龙虾饭店").inner_text()
    for words in ("地址：肇东市正阳大街", "信易+餐饮", "9.8折", "个人", "守信及以上", "每天不限次数", "节假日照常可用"):
        assert words in dining, (words, dining)
    library = page.locator("#directory > li").filter(has_text="肇东市测试书画馆").inner_text()
    for words in ("个人、企业", "诚信良好及以上", "诚信良好 4 册；诚信优秀 6 册", "每人每天限 1 次", "法定节假日",
                  "2026-01-01 至 2027-12-31", "地址：肇东市测试路 1 号", "营业时间：周二至周日 08:30-17:00",
                  "每天 08:30–11:30、13:30–17:00（北京时间），其他时间不可用"):
        assert words in library, (words, library)
    assert not ENGLISH.search(page.inner_text("body"))
    page.fill("#search", "书画馆")
    screenshot(page, "conditions", app="gongshi")
    page.fill("#search", "")
    page.evaluate("() => window.scrollTo(0, 0)")
    screenshot(page, "all", app="gongshi")


def test_filter_by_scenario_and_search(live_server, launch, screenshot):
    page = launch().new_page()
    page.goto(f"{live_server}/gongshi/")
    page.wait_for_selector("#directory li")
    page.select_option("#scenario", "notary")
    assert page.locator("#directory h2").all_inner_texts() == ["肇东市公证处"]
    page.select_option("#scenario", "")
    page.fill("#search", "公证处")
    assert sorted(page.locator("#directory h2").all_inner_texts()) == ["肇东市公证处", "肇东市公证处法律咨询"]
    page.fill("#search", "宋站镇")  # by address
    assert page.locator("#directory h2").all_inner_texts() == ["鸿泰猪病医院"]
    page.fill("#search", "没有这样的单位")
    assert page.locator("#directory li").count() == 0
    assert "没有符合条件" in page.inner_text("#summary")
    page.fill("#search", "九八折")
    page.select_option("#scenario", "pets")
    screenshot(page, "filtered", app="gongshi")


def test_large_text_and_axe_on_the_public_page(live_server, launch, screenshot):
    page = launch().new_page()
    page.goto(f"{live_server}/gongshi/")
    page.wait_for_selector("#directory li")
    assert axe_violations(page) == []
    page.click("#large-text")
    page.reload()
    page.wait_for_selector("#directory li")
    assert page.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "21px"
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 360
    assert axe_violations(page) == []
    screenshot(page, "large-text", app="gongshi")


def test_a_signed_in_citizen_sees_what_they_can_use_at_their_tier(live_server, launch, token, quota_partner,
                                                                  screenshot):
    context = launch()
    page = context.new_page()
    page.goto(f"{live_server}/m/#token={token('citizen')}")
    page.wait_for_selector("#qr svg", timeout=15000)
    page.goto(f"{live_server}/gongshi/")
    page.wait_for_selector("#directory .for-me")
    assert "诚信良好" in page.inner_text("#mine")
    library = page.locator("#directory > li").filter(has_text="肇东市测试书画馆").inner_text()
    assert "您可使用：4 册" in library  # 诚信良好 borrows 4
    assert "您可使用" in page.locator("#directory > li").filter(has_text="辣盆盆小龙虾饭店").inner_text()
    page.fill("#search", "书画馆")
    page.locator("#directory .for-me").first.scroll_into_view_if_needed()
    screenshot(page, "for-me", app="gongshi")

    blacklisted = launch().new_page()
    blacklisted.goto(f"{live_server}/m/#token={token('citizen-blacklisted')}")
    blacklisted.wait_for_selector("#pass-reasons li", timeout=15000)
    blacklisted.goto(f"{live_server}/gongshi/")
    blacklisted.wait_for_selector("#directory .for-me")
    assert "暂不能享受" in blacklisted.inner_text("#mine")
