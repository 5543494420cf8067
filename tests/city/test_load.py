"""`flask city load`: a city's reference data from TOML, idempotent, audited, all-or-nothing."""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.city.models import Area
from backend.credit.identifiers import id_number_check_char
from backend.credit.models import CreditSubject, Tier, TierRule
from backend.extensions import db
from backend.merchants.models import HolidayCalendarDay, HolidayCalendarYear, Partner, Perk, Scenario
from backend.audit import AuditEntry

from tests.helpers import app_maker, fresh_database

ROOT = Path(__file__).resolve().parents[2]
ZHAODONG = ROOT / "cities" / "zhaodong.toml"


def snapshot() -> dict:
    """Everything a city file can change, as plain values."""
    return {
        "tiers": sorted((t.level, t.code, t.name) for t in db.session.scalars(select(Tier))),
        "rules": sorted((r.holder_kind, r.criterion, r.threshold or "", r.tier_level)
                        for r in db.session.scalars(select(TierRule))),
        "areas": sorted((a.code, a.name, a.parent_code or "") for a in db.session.scalars(select(Area))),
        "scenarios": sorted((s.id, s.code, s.name) for s in db.session.scalars(select(Scenario))),
        "partners": sorted((p.id, p.name, p.scenario_id, p.address or "", p.area_id or 0, p.active)
                           for p in db.session.scalars(select(Partner))),
        "perks": sorted((p.id, p.partner_id, p.title, p.kind, p.discount_permille or 0, p.active, p.holder_kinds)
                        for p in db.session.scalars(select(Perk))),
        "days": sorted((d.calendar, d.day, d.kind, d.name) for d in db.session.scalars(select(HolidayCalendarDay))),
        "years": sorted((y.calendar, y.year, y.basis or "") for y in db.session.scalars(select(HolidayCalendarYear))),
    }


def load(runner, path: Path):
    return runner.invoke(args=["city", "load", str(path)])


@contextmanager
def loaded_instead(runner, tmp_path: Path, text: str):
    """Load `text` in place of the Zhaodong file and yield its output; then load the
    Zhaodong file back (the session's app is shared). Checks that it loaded in one audited step."""
    path = tmp_path / "zhaodong.toml"
    path.write_text(text, encoding="utf-8")
    audits = audit_count()
    try:
        result = load(runner, path)
        assert result.exit_code == 0, result.output
        assert audit_count() == audits + 1
        yield result.output
        assert "无改动" in load(runner, path).output and audit_count() == audits + 1
    finally:
        assert load(runner, ZHAODONG).exit_code == 0


def audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "city.load"))


def test_the_demo_is_the_zhaodong_file_and_loading_it_again_changes_nothing(ctx, runner):
    before, audits = snapshot(), audit_count()
    result = load(runner, ZHAODONG)
    assert result.exit_code == 0, result.output
    assert "无改动" in result.output
    assert snapshot() == before and audit_count() == audits
    names = {p.name for p in db.session.scalars(select(Partner))}
    assert {"辣盆盆小龙虾饭店", "肇东市公证处", "鸿泰猪病医院", "焯艺室内外装修服务队"} <= names
    lapenpen = db.session.scalar(select(Partner).where(Partner.name == "辣盆盆小龙虾饭店"))
    assert db.session.get(Area, lapenpen.area_id).name == "松辽社区"
    assert lapenpen.perks[0].discount_permille == 980
    vet = db.session.scalar(select(Partner).where(Partner.name == "鸿泰猪病医院"))
    assert (vet.hours, vet.perks[0].time_windows) == ("每天 08:00-17:30", ["09:00-11:30", "14:00-17:00"])


def test_a_changed_file_updates_in_place_and_is_audited(ctx, runner, tmp_path):
    original = ZHAODONG.read_text(encoding="utf-8")
    lapenpen = db.session.scalar(select(Partner).where(Partner.name == "辣盆盆小龙虾饭店"))
    perk_id, partner_id = lapenpen.perks[0].id, lapenpen.id
    changed = (original.replace('address = "肇东市正阳大街"', 'address = "肇东市正阳大街 88 号"')
               .replace('perks = [{ kind = "discount", title = "九八折优惠", discount = 9.8 }]\n\n[[partners]]\n'
                        'name = "肇东市政务服务中心（审批中心）"',
                        'perks = [{ kind = "discount", title = "九八折优惠", discount = 9.5 }]\n\n[[partners]]\n'
                        'name = "肇东市政务服务中心（审批中心）"', 1)
               .replace('name = "诚信良好"', 'name = "诚信良好（二级）"'))
    assert changed.count("9.5") == 1
    with loaded_instead(runner, tmp_path, changed):
        db.session.expire_all()
        lapenpen = db.session.get(Partner, partner_id)
        assert lapenpen.address == "肇东市正阳大街 88 号"
        assert db.session.get(Perk, perk_id).discount_permille == 950  # the same perk, changed in place
        assert db.session.get(Tier, 2).name == "诚信良好（二级）"
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "city.load")
                                  .order_by(AuditEntry.id.desc()))
        assert entry.actor == "cli" and len(entry.detail["changes"]) == 3
    assert db.session.get(Perk, perk_id).discount_permille == 980


def test_a_perk_the_file_no_longer_lists_is_switched_off_not_deleted(ctx, runner, tmp_path):
    text = ZHAODONG.read_text(encoding="utf-8").replace(
        'perks = [{ kind = "discount", title = "牛肉九八折", discount = 9.8 }]',
        'perks = [{ kind = "discount", title = "牛肉九五折", discount = 9.5 }]')
    path = tmp_path / "zhaodong.toml"
    path.write_text(text, encoding="utf-8")
    try:
        assert load(runner, path).exit_code == 0
        perks = {p.title: p.active for p in db.session.scalars(select(Perk).join(Partner)
                                                                 .where(Partner.name == "明宇养殖场"))}
        assert perks == {"牛肉九八折": False, "牛肉九五折": True}
    finally:
        assert load(runner, ZHAODONG).exit_code == 0
        db.session.delete(db.session.scalar(select(Perk).where(Perk.title == "牛肉九五折")))  # never redeemed
        db.session.commit()


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.replace('scenario = "notary"', 'scenario = "notery"'), "notery"),
    (lambda t: t.replace('address = "肇东市昌五路"\nperks = [{ kind = "discount", title = "九八折优惠", discount = 9.8 }]',
                         'address = "肇东市昌五路"\nperks = [{ kind = "discount", title = "九八折优惠", discount = 98 }]'),
     "折扣"),
    (lambda t: t.replace("[[tiers]]\nlevel = 2", "[[tiers]]\nlevel = 2\ncolour = \"red\""), "colour"),
    (lambda t: t.replace("code = 230184 ", "code = 370781 "), "ISSUER_CODE"),
    (lambda t: t.replace('[ladder.person]', '[ladder.person'), "TOML 格式错误"),
    (lambda t: t.replace('{ from = "2026-10-01", days = 7', '{ from = "2025-10-01", days = 7'), "2026 年内"),
    (lambda t: t.replace('time_windows = ["09:00-11:30", "14:00-17:00"]',
                         'time_windows = ["09:00-11:30", "11:00-17:00"]'), "time_windows：时段之间有重叠"),
    (lambda t: t.replace('time_windows = ["09:00-11:30", "14:00-17:00"]', 'time_windows = ["9点-11点"]'),
     "格式应为 09:00-11:30"),
    # make-up working days (调休上班): a weekend day of the year, not a holiday, once, with a name
    (lambda t: t.replace('{ day = "2026-01-04", name = "元旦" }', '{ day = "2026-01-05", name = "元旦" }'),
     "调休上班日 2026-01-05（元旦）是星期一：调休上班日须为周六或周日"),
    (lambda t: t.replace('{ day = "2026-10-10", name = "国庆节" }', '{ day = "2026-10-03", name = "国庆节" }'),
     "2026-10-03 既是假期“国庆节”又是调休上班日"),
    (lambda t: t.replace('{ day = "2026-05-09", name = "劳动节" }', '{ day = "2027-05-08", name = "劳动节" }'),
     "调休上班日“劳动节”的日期须为 2026 年内的日期"),
    (lambda t: t.replace('{ day = "2026-02-28", name = "春节" }', '{ day = "2026-02-14", name = "春节" }'),
     "调休上班日 2026-02-14 重复"),
    (lambda t: t.replace('{ day = "2026-09-20", name = "国庆节" }', '{ day = "2026-09-20" }'), "day、name"),
    (lambda t: t.replace('makeup_workdays = [', 'makeup_days = ['), "makeup_days"),
    # the notice a year rests on: words, if written at all
    (lambda t: t.replace('basis = "国务院办公厅关于2026年部分节假日安排的通知（2025年11月4日）"', 'basis = ""'),
     "依据 basis 须为不超过 200 个字的文字"),
    (lambda t: t.replace('basis = "国务院办公厅关于2026年部分节假日安排的通知（2025年11月4日）"', 'basis = 2026'),
     "依据 basis 须为不超过 200 个字的文字"),
])
def test_a_bad_file_gets_line_numbered_chinese_errors_and_changes_nothing(ctx, runner, tmp_path, edit, expected):
    text = ZHAODONG.read_text(encoding="utf-8")
    bad = edit(text)
    assert bad != text
    path = tmp_path / "bad.toml"
    path.write_text(bad, encoding="utf-8")
    before, audits = snapshot(), audit_count()
    result = load(runner, path)
    assert result.exit_code != 0
    assert expected in result.output and "第" in result.output and "未作任何改动" in result.output
    assert snapshot() == before and audit_count() == audits


NOTICE_2026_WORKDAYS = {  # 国务院办公厅关于2026年部分节假日安排的通知: the weekend days worked
    date(2026, 1, 4): "元旦", date(2026, 2, 14): "春节", date(2026, 2, 28): "春节", date(2026, 5, 9): "劳动节",
    date(2026, 9, 20): "国庆节", date(2026, 10, 10): "国庆节"}


def workdays(year: int) -> dict:
    return {d.day: d.name for d in db.session.scalars(select(HolidayCalendarDay).where(
        HolidayCalendarDay.calendar == "major_holidays", HolidayCalendarDay.kind == "workday",
        HolidayCalendarDay.day.between(date(year, 1, 1), date(year, 12, 31))))}


def test_the_make_up_working_days_of_a_year_are_loaded_and_replaced_with_it(ctx, runner, tmp_path):
    assert workdays(2026) == NOTICE_2026_WORKDAYS and all(day.weekday() >= 5 for day in NOTICE_2026_WORKDAYS)
    holidays = db.session.scalar(select(func.count()).select_from(HolidayCalendarDay).where(
        HolidayCalendarDay.calendar == "major_holidays", HolidayCalendarDay.kind == "holiday",
        HolidayCalendarDay.day.between(date(2026, 1, 1), date(2026, 12, 31))))
    assert holidays == 3 + 9 + 3 + 5 + 3 + 3 + 7
    text = ZHAODONG.read_text(encoding="utf-8").replace('  { day = "2026-10-10", name = "国庆节" },\n', "")
    with loaded_instead(runner, tmp_path, text) as output:
        assert "日历“major_holidays”2026 年：放假 33 天、调休上班 6 天 → 放假 33 天、调休上班 5 天" in output
        assert workdays(2026) == {day: name for day, name in NOTICE_2026_WORKDAYS.items() if day != date(2026, 10, 10)}
    assert workdays(2026) == NOTICE_2026_WORKDAYS


def basis_of(year: int) -> str | None:
    return db.session.scalar(select(HolidayCalendarYear.basis).where(HolidayCalendarYear.calendar == "major_holidays",
                                                                      HolidayCalendarYear.year == year))


def test_a_year_rests_on_the_notice_its_file_names_and_is_provisional_without_one(ctx, runner, tmp_path):
    notice_2026 = "国务院办公厅关于2026年部分节假日安排的通知（2025年11月4日）"
    assert (basis_of(2026), basis_of(2027)) == (notice_2026, None)
    notice_2027 = "国务院办公厅关于2027年部分节假日安排的通知"
    text = ZHAODONG.read_text(encoding="utf-8")
    text = text.replace(f'basis = "{notice_2026}"\n', "").replace(
        'year = 2027\n', f'year = 2027\nbasis = "{notice_2027}"\n')
    with loaded_instead(runner, tmp_path, text) as output:
        assert f"日历“major_holidays”2026 年的依据：{notice_2026} → 预排" in output
        assert f"日历“major_holidays”2027 年的依据：预排 → {notice_2027}" in output
        assert (basis_of(2026), basis_of(2027)) == (None, notice_2027)
    assert (basis_of(2026), basis_of(2027)) == (notice_2026, None)


def test_the_unknown_scenario_error_names_the_partners_line(ctx, runner, tmp_path):
    text = ZHAODONG.read_text(encoding="utf-8").replace('scenario = "notary"', 'scenario = "notery"')
    line = next(n for n, row in enumerate(text.splitlines(), 1) if row.strip() == 'name = "肇东市公证处"') - 1
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    result = load(runner, path)
    assert f"第 {line} 行" in result.output and "notery" in result.output


def test_a_fresh_city_without_demo_runs_from_its_files_to_a_redemption(tmp_path_factory, redis_url, redis_prefix):
    """docs/running.md's path for a real city: migrate, load the city, load credit, issue, redeem."""
    from flask_migrate import upgrade

    with fresh_database(tmp_path_factory, "city") as url, app_maker(url, redis_url, redis_prefix) as make:
        app = make(DEMO=False)
        runner, client = app.test_cli_runner(), app.test_client()
        with app.app_context():
            upgrade()
        loaded = runner.invoke(args=["city", "load", str(ZHAODONG)])
        assert loaded.exit_code == 0, loaded.output
        assert runner.invoke(args=["pass-keys", "create"]).exit_code == 0
        first17 = "23018419880808123"
        person = first17 + id_number_check_char(first17)
        credit = tmp_path_factory.mktemp("credit") / "credit.csv"
        credit.write_text("kind,identifier,score,rating,tax_grade,red_list,black_list,updated_at\n"
                          f"person,{person},1120,,,0,0,2026-11-20T08:00:00+08:00\n", encoding="utf-8")
        imported = runner.invoke(args=["credit", "import", str(credit)])
        assert imported.exit_code == 0, imported.output
        with app.app_context():
            subject = db.session.scalar(select(CreditSubject))
            assert subject.tier_level == 2  # 1,120 points: 诚信良好 on Zhaodong's ladder
            partner = db.session.scalar(select(Partner).where(Partner.name == "辣盆盆小龙虾饭店"))
            perk_id, partner_id = partner.perks[0].id, partner.id
        staff = runner.invoke(args=["accounts", "create-staff", str(partner_id), "cashier-1", "cashier",
                                    "--password", "a-long-password-1"])
        assert staff.exit_code == 0, staff.output

        class Outbox:
            def send(self, phone, text, **_template):
                self.text = text
        outbox = app.extensions["sms_sender"] = Outbox()
        assert client.post("/api/auth/sms/send", json={"phone": "13912345678"}).status_code == 202
        code = "".join(c for c in outbox.text if c.isdigit())[:6]
        login = client.post("/api/auth/sms/login", json={"phone": "13912345678", "code": code})
        assert login.status_code == 200, login.json
        citizen = {"Authorization": f"Bearer {login.json['access_token']}"}
        notice = client.get("/api/auth/privacy").json  # read, and agreed to, before the first pass
        assert client.post("/api/auth/consent", headers=citizen, json={"version": notice["version"]}).status_code == 200
        bound = client.post("/api/auth/identity", headers=citizen, json={"name": "张三", "id_number": person})
        assert bound.status_code == 200, bound.json
        issued = client.post("/api/pass", headers=citizen, json={})
        assert issued.status_code == 201 and issued.json["tier_name"] == "诚信良好"
        cashier = client.post("/api/auth/staff/login", json={"username": "cashier-1", "password": "a-long-password-1"})
        assert cashier.status_code == 200, cashier.json
        redeemed = client.post("/api/redemptions", headers={"Authorization": f"Bearer {cashier.json['access_token']}"},
                               json={"token": issued.json["token"], "perk_id": perk_id, "client_id": str(uuid.uuid4()),
                                     "scanned_at": datetime.now(timezone.utc).isoformat(), "amount_fen": 10000})
        assert redeemed.status_code == 201, redeemed.json
        assert redeemed.json["payable_fen"] == 9800


def test_a_partner_the_office_took_off_stays_off_when_the_file_is_loaded_again(ctx, runner, tmp_path):
    vet = db.session.scalar(select(Partner).where(Partner.name == "明宇养殖场"))
    vet.active, vet.left_on, vet.exit_reason = False, date(2026, 11, 30), "合作期满"
    db.session.commit()
    try:
        assert load(runner, ZHAODONG).exit_code == 0
        db.session.expire_all()
        vet = db.session.scalar(select(Partner).where(Partner.name == "明宇养殖场"))
        assert (vet.active, vet.left_on, vet.exit_reason) == (False, date(2026, 11, 30), "合作期满")
        path = tmp_path / "back.toml"
        path.write_text(ZHAODONG.read_text(encoding="utf-8").replace(
            'name = "明宇养殖场"\n', 'name = "明宇养殖场"\nactive = true\n'), encoding="utf-8")
        result = load(runner, path)
        assert result.exit_code == 0 and "恢复合作" in result.stdout, result.output
        db.session.expire_all()
        vet = db.session.scalar(select(Partner).where(Partner.name == "明宇养殖场"))
        assert (vet.active, vet.left_on, vet.exit_reason) == (True, None, None)
    finally:
        vet.active, vet.left_on, vet.exit_reason = True, None, None
        db.session.commit()
