"""The office's 互认城市 screen in Debian's Chromium at 1366x768: a partner city's tier levels, what
they mean there, and the admin mapping them to ours (audited, and carried in the key list)."""
from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select

from backend.audit import AuditEntry
from backend.dbtypes import utcnow
from backend.extensions import db
from backend.federation.models import PartnerCity
from tests.e2e.test_office_pages import open_screen, signed_in

pytestmark = pytest.mark.e2e
pass_models = importlib.import_module("backend.pass.models")
SHIJIAZHUANG = 130100


@pytest.fixture
def partner_city(app):
    """Shijiazhuang as if its trust list had been applied (pass_issuers is reference data: removed after)."""
    with app.app_context():
        now = utcnow()
        db.session.add(pass_models.Issuer(code=SHIJIAZHUANG, name="石家庄市社会信用体系建设领导小组办公室", local=False,
                                          trusted=True, tier_map={"1": 1},
                                          tier_levels={"1": "basic", "2": "good", "3": "excellent"}))
        db.session.add(PartnerCity(
            url="https://xym.sjz.example/api/federation/trust-list", pinned_key=bytes(range(32)),
            issuer_code=SHIJIAZHUANG, name="石家庄市社会信用体系建设领导小组办公室", last_issued_at=now,
            trusted_until=now + timedelta(days=1), last_synced_at=now,
            endpoint="https://xym.sjz.example/api/federation", tiers=[
                {"level": 1, "code": "basic", "name": "守信", "criteria": ["个人：诚信积分 1000 分及以上"]},
                {"level": 2, "code": "good", "name": "诚信良好", "criteria": ["个人：诚信积分 1100 分及以上", "企业：信易评价 A 级"]},
                {"level": 3, "code": "excellent", "name": "诚信优秀", "criteria": ["个人：诚信积分 1200 分及以上"]},
            ]))
        db.session.commit()
    yield SHIJIAZHUANG
    with app.app_context():
        db.session.execute(db.delete(PartnerCity))
        db.session.execute(db.delete(pass_models.Issuer).where(pass_models.Issuer.code == SHIJIAZHUANG))
        db.session.commit()


def test_the_admin_maps_a_partner_citys_tiers_to_ours(app, live_server, launch, screenshot, partner_city):
    page = signed_in(launch, live_server, "office-admin")
    open_screen(page, "federation")
    card = page.locator(".federation-city")
    card.wait_for(timeout=10000)
    assert "石家庄市" in card.locator("h3").inner_text() and "互认有效至" in card.inner_text()
    assert "诚信积分 1100 分及以上" in card.inner_text()
    selects = card.locator("select")
    assert selects.count() == 3
    assert [selects.nth(i).evaluate("(s) => s.selectedOptions[0].text") for i in range(3)] == ["守信", "不认可", "不认可"]

    selects.nth(1).select_option("basic")
    selects.nth(2).select_option("good")
    card.locator("button").click()
    page.wait_for_function("() => document.getElementById('federation-status').textContent.includes('已保存')",
                           timeout=10000)
    screenshot(page, "federation", app="office")

    with app.app_context():
        assert db.session.get(pass_models.Issuer, SHIJIAZHUANG).tier_map == {"1": 1, "2": 1, "3": 2}
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "federation.tier_map"))
        assert entry.detail["before"] == {"1": 1} and entry.detail["after"] == {"1": 1, "2": 1, "3": 2}
    keys = requests.get(f"{live_server}/api/pass/keys", timeout=10).json()
    (foreign,) = [issuer for issuer in keys["issuers"] if issuer["issuer"] == SHIJIAZHUANG]
    assert foreign["local"] is False and foreign["tier_map"] == {"1": 1, "2": 1, "3": 2}


def test_an_analyst_sees_the_mapping_but_cannot_change_it(live_server, launch, partner_city):
    page = signed_in(launch, live_server, "office-analyst")
    open_screen(page, "federation")
    card = page.locator(".federation-city")
    card.wait_for(timeout=10000)
    assert card.locator("select").first.is_disabled() and card.locator("button").count() == 0
