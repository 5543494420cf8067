"""The merchant's monthly statement agrees with the office's statistics for that partner."""
from __future__ import annotations

from datetime import timedelta

from backend.timeutil import local_day

from .conftest import utc


def test_the_statement_equals_the_offices_statistics_for_the_partner(shop, client, token):
    perk = shop.perk()
    kept = [shop.redeem(shop.pass_for(shop.holder()), perk, amount_fen=amount) for amount in (10000, 2550, 99)]
    voided = shop.redeem(shop.pass_for(shop.holder()), perk, amount_fen=7777)
    assert client.post(f"/api/redemptions/{voided.redemption.id}/void", headers=shop.header(),
                       json={"reason": "错单"}).status_code == 200
    today = local_day(utc())
    month = today.strftime("%Y-%m")
    answer = client.get("/api/merchant/statement", headers=shop.header(role="merchant_admin"),
                        query_string={"month": month})
    assert answer.status_code == 200, answer.json
    body = answer.json
    assert body["total"] == {"redemptions": 3, "amount_fen": 12649,
                             "discount_fen": sum(k.redemption.discount_fen for k in kept)}
    assert len(body["days"]) >= 28 and body["days"][0]["day"] == f"{month}-01"
    assert next(d for d in body["days"] if d["day"] == today.isoformat())["redemptions"] == 3
    first = today.replace(day=1)
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    office = client.get("/api/office/stats", headers={"Authorization": f"Bearer {token('office-analyst')}"},
                        query_string={"group_by": "partner", "from": first.isoformat(), "to": last.isoformat()})
    row = next(r for r in office.json["rows"] if r["key"] == shop.partner.name)
    assert {k: row[k] for k in ("redemptions", "amount_fen", "discount_fen")} == body["total"]


def test_only_the_merchant_admin_reads_the_statement_and_the_month_is_checked(shop, client, token):
    assert client.get("/api/merchant/statement", headers=shop.header(), query_string={"month": "2026-12"}
                      ).status_code == 403
    assert client.get("/api/merchant/statement", headers={"Authorization": f"Bearer {token('office-admin')}"},
                      query_string={"month": "2026-12"}).status_code == 403
    for bad in ("2026-13", "2026-1", "26-12", "", "2026-12-01"):
        answer = client.get("/api/merchant/statement", headers=shop.header(role="merchant_admin"),
                            query_string={"month": bad})
        assert answer.status_code == 422 and answer.json["code"] == "validation_error", bad
    empty = client.get("/api/merchant/statement", headers=shop.header(role="merchant_admin"),
                       query_string={"month": "2024-02"}).json
    assert len(empty["days"]) == 29 and empty["total"] == {"redemptions": 0, "amount_fen": 0, "discount_fen": 0}
