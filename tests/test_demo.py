"""The demo city is what the README promises: the Zhaodong table, the tier rules, every tier, every role."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.config import ConfigError, check_production
from backend.credit.models import CreditSubject, TierRule
from backend.demo import ROLES
from backend.extensions import db
from backend.merchants.models import HolidayCalendarDay, Partner, Perk

ZHAODONG = {  # ../shared/domain.md, seed 003: partner → (scenario, perk kind, per-mille)
    "辣盆盆小龙虾饭店": ("信易+餐饮", "discount", 980),
    "肇东市政务服务中心（审批中心）": ("信易+审批", "green_channel", None),
    "肇东市公证处": ("信易+公证", "green_channel", None),
    "大卫美术教育": ("信易+兴趣培训", "discount", 980),
    "鸿泰猪病医院": ("信易+畜牧", "discount", 980),
    "博爱宠物医院": ("信易+宠物", "discount", 980),
    "明宇养殖场": ("信易+养殖", "discount", 980),
    "焯艺室内外装修服务队": ("信易+装修", "discount", 980),
    "肇东市公证处法律咨询": ("信易+法律援助", "green_channel", None),
}


def test_the_nine_zhaodong_partners_and_their_perks(ctx):
    for name, (scenario, kind, permille) in ZHAODONG.items():
        partner = db.session.scalar(select(Partner).where(Partner.name == name))
        assert partner is not None, name
        assert partner.scenario.name == scenario
        assert [(perk.kind, perk.discount_permille) for perk in partner.perks] == [(kind, permille)]


def test_tourism_perk_is_blacked_out_on_major_holidays_and_library_is_graded(ctx):
    tourism = db.session.scalar(select(Perk).where(Perk.kind == "free_entry"))
    assert tourism.blackout_calendar == "major_holidays"
    national_day = db.session.scalar(select(func.count()).select_from(HolidayCalendarDay).where(
        HolidayCalendarDay.calendar == "major_holidays", HolidayCalendarDay.name == "国庆节"))
    assert national_day >= 7
    library = db.session.scalar(select(Perk).where(Perk.kind == "extra_quota"))
    assert library.quota_by_tier == {"1": 3, "2": 4, "3": 5}


def test_tier_rules_follow_the_seeds(ctx):
    rules = {(r.holder_kind, r.criterion, r.threshold): r.tier_level for r in db.session.scalars(select(TierRule))}
    assert rules[("person", "score_at_least", "1050")] == 1
    assert rules[("company", "rating_in", "B")] == 1
    assert ("company", "tax_grade_in", "A") in rules
    assert rules[("person", "red_list", None)] == max(rules.values())


def test_synthetic_people_and_companies_span_every_tier(ctx):
    for kind in ("person", "company"):
        levels = set(db.session.scalars(select(CreditSubject.tier_level).where(CreditSubject.kind == kind)))
        assert {0, 1, 2, 3, 4} <= levels, kind
        black = db.session.scalar(select(func.count()).select_from(CreditSubject).where(
            CreditSubject.kind == kind, CreditSubject.black_listed.is_(True)))
        assert black > 0
    assert db.session.scalar(select(func.count()).select_from(CreditSubject)) >= 300
    # A black-listed subject never holds a tier, whatever its score.
    assert db.session.scalar(select(func.count()).select_from(CreditSubject).where(
        CreditSubject.black_listed.is_(True), CreditSubject.tier_level > 0)) == 0


@pytest.mark.parametrize("role", ROLES)
def test_demo_token_works_for_every_role(client, token, role):
    response = client.get("/api/partners", headers={"Authorization": f"Bearer {token(role)}"})
    assert response.status_code == 200


def test_seed_twice_changes_nothing(runner, ctx):
    before = db.session.scalar(select(func.count()).select_from(CreditSubject))
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0
    assert db.session.scalar(select(func.count()).select_from(CreditSubject)) == before


def test_production_refuses_to_start_without_real_secrets():
    with pytest.raises(ConfigError):
        check_production({"DEMO": False, "SECRET_KEY": None, "PASS_KEY_SECRET": None, "IDENTITY_PEPPER": None})
    with pytest.raises(ConfigError):
        check_production({"DEMO": False, "SECRET_KEY": "demo-only-secret-never-use-in-production",
                          "PASS_KEY_SECRET": "x", "IDENTITY_PEPPER": "y"})
    check_production({"DEMO": False, "SECRET_KEY": "a" * 32, "PASS_KEY_SECRET": "b" * 32, "IDENTITY_PEPPER": "c" * 32})
