"""The case feed (实时全量反馈) and the audit log, as the provincial platform and an auditor read them."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from backend.credit.identifiers import identity_hash
from backend.credit.models import CreditSubject
from backend.extensions import db
from tests.credit.helpers import fresh_ids
from tests.merchants.conftest import Shop, utc


@pytest.fixture
def shop(app):
    with app.app_context():
        made = Shop(app)
        yield made
        made.remove()


@pytest.fixture
def settle(app):
    """Set CASE_FEED_SETTLE_SECONDS for one test."""
    saved = app.config["CASE_FEED_SETTLE_SECONDS"]
    yield lambda seconds: app.config.update(CASE_FEED_SETTLE_SECONDS=seconds)
    app.config["CASE_FEED_SETTLE_SECONDS"] = saved


def redeem(client, shop, token, perk):
    return client.post("/api/redemptions", headers=shop.header(), json={
        "token": token, "perk_id": perk, "client_id": str(uuid.uuid4()), "scanned_at": utc().isoformat(),
        "amount_fen": 10000})


def every_case(client, headers, limit):
    """Page through the whole feed; returns the cases and the cursors the pages handed out."""
    cases, cursor, cursors = [], None, []
    for _ in range(50):
        page = client.get("/api/office/cases", headers=headers,
                          query_string={"limit": limit, **({"after": cursor} if cursor else {})})
        assert page.status_code == 200, page.json
        cases += page.json["cases"]
        if not page.json["cases"]:
            assert page.json["next"] == (cursor or page.json["next"])
            return cases, cursors
        cursor = page.json["next"]
        cursors.append(cursor)
    raise AssertionError("the feed did not end")


def order(cursor: str) -> tuple[int, ...]:
    return tuple(int(part) for part in cursor.split(".")[1:])


def test_every_redemption_refusal_and_void_is_one_case_and_cursors_only_grow(shop, client, token, settle):
    settle(0)
    perk = shop.perk()
    first, second = shop.pass_for(shop.holder()), shop.pass_for(shop.holder())
    done = redeem(client, shop, first, perk)
    assert done.status_code == 201
    assert redeem(client, shop, second, perk).status_code == 201
    assert redeem(client, shop, first, perk).json["code"] == "pass_already_used"  # a refusal
    voided = client.post(f"/api/redemptions/{done.json['id']}/void", headers=shop.header(),
                         json={"reason": "收银员扫错"})
    assert voided.status_code == 200, voided.json
    headers = {"Authorization": f"Bearer {token('office-analyst')}"}
    cases, cursors = every_case(client, headers, limit=2)
    kinds = [case["kind"] for case in cases]
    assert sorted(kinds) == ["redemption", "redemption", "refusal", "void"]
    assert all(order(a) < order(b) for a, b in zip(cursors, cursors[1:]))
    each = [order(case["cursor"]) for case in cases]
    assert all(a < b for a, b in zip(each, each[1:])) and len(set(each)) == len(each)
    refusal = next(case for case in cases if case["kind"] == "refusal")
    assert refusal["code"] == "pass_already_used" and refusal["perk_id"] == perk
    void = next(case for case in cases if case["kind"] == "void")
    assert (void["amount_fen"], void["discount_fen"], void["perk_id"]) == (10000, 200, perk)
    redemption = next(case for case in cases if case["kind"] == "redemption")
    assert redemption["scenario"] == "dining" and redemption["tier"] == "good"
    assert redemption["holder_kind"] == "person" and redemption["offline"] is False
    # Resuming from any case's cursor gives exactly the cases after it.
    middle = cases[1]["cursor"]
    rest = client.get("/api/office/cases", headers=headers, query_string={"after": middle, "limit": 10}).json
    assert [case["cursor"] for case in rest["cases"]] == [case["cursor"] for case in cases[2:]]
    # Nothing that names a person.
    text = json.dumps(cases, ensure_ascii=False)
    assert "token" not in text and "phone" not in text and "identity" not in text and "client_id" not in text


def test_a_case_is_served_only_once_it_has_settled(shop, client, token, settle):
    settle(3600)
    perk = shop.perk()
    assert redeem(client, shop, shop.pass_for(shop.holder()), perk).status_code == 201
    headers = {"Authorization": f"Bearer {token('office-admin')}"}
    page = client.get("/api/office/cases", headers=headers).json
    assert page["cases"] == [] and page["next"] == "c1.0.0.0"


@pytest.mark.parametrize("cursor", ["x", "c1.1.2", "c1.-1.0.0", "c1.99999999999999999999.0.0", "c2.0.0.0"])
def test_a_bad_cursor_is_a_validation_error(client, token, cursor):
    answer = client.get("/api/office/cases", headers={"Authorization": f"Bearer {token('office-admin')}"},
                        query_string={"after": cursor})
    assert answer.status_code == 422 and answer.json["code"] == "validation_error"


def test_only_the_office_reads_the_cases(shop, client, token):
    assert client.get("/api/office/cases", headers=shop.header()).status_code == 403
    assert client.get("/api/office/cases", headers=shop.header(role="merchant_admin")).status_code == 403
    assert client.get("/api/office/cases").status_code == 401


def test_the_audit_log_for_the_admin_and_the_auditor_only(shop, client, token):
    perk = shop.perk()
    done = redeem(client, shop, shop.pass_for(shop.holder()), perk)
    client.post(f"/api/redemptions/{done.json['id']}/void", headers=shop.header(), json={"reason": "错单"})
    for role in ("office-admin", "office-auditor"):
        answer = client.get("/api/office/audit", headers={"Authorization": f"Bearer {token(role)}"},
                            query_string={"action": "redemption.void"})
        assert answer.status_code == 200
        entry = answer.json["entries"][0]
        assert entry["action"] == "redemption.void" and entry["target"] == f"redemption:{done.json['id']}"
        assert entry["detail"]["reason"] == "错单"
    assert client.get("/api/office/audit", headers={"Authorization": f"Bearer {token('office-analyst')}"}
                      ).status_code == 403
    empty = client.get("/api/office/audit", headers={"Authorization": f"Bearer {token('office-admin')}"},
                       query_string={"action": "no.such.action"})
    assert empty.json == {"entries": [], "next": None}
    bad = client.get("/api/office/audit", headers={"Authorization": f"Bearer {token('office-admin')}"},
                     query_string={"from": "2026-13-01"})
    assert bad.status_code == 422


def test_cases_carry_the_platform_key_of_an_imported_subject_and_never_its_id_number(shop, client, token, settle,
                                                                                        runner, tmp_path):
    settle(0)
    (person,) = fresh_ids(2401, 1)
    export = tmp_path / "export.csv"
    export.write_bytes(f"主体类型,证件号码,诚信积分,平台主体标识,姓名\n个人,{person},1160,HLJ-ZD-000042,张三\n".encode("gbk"))
    assert runner.invoke(args=["credit", "import", str(export)]).exit_code == 0
    subject_id = db.session.scalar(select(CreditSubject.id).where(CreditSubject.identity_hash == identity_hash(
        pepper=shop.app.config["IDENTITY_PEPPER"], identifier=person)))
    shop.subject_ids.append(subject_id)
    perk = shop.perk()
    pass_token = shop.pass_for(subject_id)
    done = redeem(client, shop, pass_token, perk)
    assert done.status_code == 201, done.json
    assert redeem(client, shop, pass_token, perk).json["code"] == "pass_already_used"
    assert client.post(f"/api/redemptions/{done.json['id']}/void", headers=shop.header(),
                       json={"reason": "收银员扫错"}).status_code == 200
    cases, _ = every_case(client, {"Authorization": f"Bearer {token('office-admin')}"}, limit=10)
    assert sorted(case["kind"] for case in cases) == ["redemption", "refusal", "void"]
    assert all(case["subject_key"] == "HLJ-ZD-000042" for case in cases), cases
    text = json.dumps(cases, ensure_ascii=False)
    assert person not in text and "张三" not in text
