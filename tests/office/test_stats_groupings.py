"""The statistics as the office reads them through the API: every grouping in Chinese (诚信良好, never
`good`), a visitor's pass from a partner city in its city's group, distinct beneficiaries and the offline
count; tests/office/test_stats_rollup.py holds every grouping, rolled up or not, to a plain count."""
from __future__ import annotations

import base64
import importlib
import os
import time
import uuid
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select

from backend.credit.models import Tier
from backend.extensions import db
from backend.merchants.models import Partner
from tests.helpers import PassKey
from tests.merchants.conftest import utc

from .test_cases import shop  # noqa: F401  (fixture)

codec = importlib.import_module("backend.pass.codec")
VISITOR_ISSUER = 130100


@pytest.fixture
def visitor(app, runner):
    """A partner city trusted by its public key; its passes open to no holder here."""
    key = Ed25519PrivateKey.generate()
    public = base64.urlsafe_b64encode(key.public_key().public_bytes_raw()).rstrip(b"=").decode()
    result = runner.invoke(args=["pass-keys", "trust", str(VISITOR_ISSUER), "石家庄市信用办", "3", public,
                                 "--not-before", "2025-01-01", "--tier-map", "1=1,2=2,3=3"])  # its levels mean ours
    assert result.exit_code == 0, result.output

    def token(kind="person", tier=2):
        now = int(time.time())
        return codec.encode_pass(private_key=key, issuer=VISITOR_ISSUER, kid=3, kind=kind, tier=tier,
                                 issued_at=now - 5, expires_at=now + 55, sealed_ref=os.urandom(16))
    yield token
    with app.app_context():
        issuer_model = PassKey.issuer.property.mapper.class_
        db.session.execute(delete(PassKey).where(PassKey.issuer_code == VISITOR_ISSUER))
        db.session.execute(delete(issuer_model).where(issuer_model.code == VISITOR_ISSUER))
        db.session.commit()


def redeem(client, shop, token, perk, **fields):  # noqa: F811
    answer = client.post("/api/redemptions", headers=shop.header(), json={
        "token": token, "perk_id": perk, "client_id": str(uuid.uuid4()), "scanned_at": utc().isoformat(),
        "amount_fen": 10000, **fields})
    assert answer.status_code == 201, answer.json
    return answer.json


def stats(client, token, group_by, **query):
    answer = client.get("/api/office/stats", headers={"Authorization": f"Bearer {token('office-analyst')}"},
                        query_string={"group_by": group_by, "beneficiaries": "true", **query})
    assert answer.status_code == 200, answer.json
    return answer.json


def test_every_grouping_speaks_chinese_and_counts_beneficiaries_once(shop, client, token, visitor):  # noqa: F811
    perk, other = shop.perk(), shop.perk(title="测试九五折", discount_permille=950)
    person, company = shop.holder(), shop.holder(kind="company", tier_level=3)
    redeem(client, shop, shop.pass_for(person), perk)
    redeem(client, shop, shop.pass_for(person), other)  # the same person again: one beneficiary
    redeem(client, shop, shop.pass_for(company), perk)
    redeem(client, shop, visitor(), perk)  # a visitor from 石家庄
    # The same person at the first perk again with a fresh pass, sent from the scanner's outbox: offline.
    assert redeem(client, shop, shop.pass_for(person), perk, amount_fen=5000, queued=True)["offline"] is True

    by_issuer = stats(client, token, "issuer")
    rows = {row["key"]: row for row in by_issuer["rows"]}
    local = str(client.application.config["ISSUER_CODE"])
    visiting = rows[str(VISITOR_ISSUER)]  # grouped by the city that issued the pass, by its name
    assert visiting["label"] == "石家庄市信用办" and visiting["redemptions"] == 1
    assert visiting["beneficiaries"] == 0  # sealed by its own city: not counted here
    assert set(rows) == {local, str(VISITOR_ISSUER)}
    assert rows[local]["label"] == "肇东市社会信用体系建设领导小组办公室"
    assert (rows[local]["redemptions"], rows[local]["beneficiaries"], rows[local]["offline"]) == (4, 2, 1)
    assert by_issuer["total"] == {"redemptions": 5, "amount_fen": 45000,
                                  "discount_fen": sum(row["discount_fen"] for row in by_issuer["rows"]),
                                  "beneficiaries": 2, "offline": 1}

    kinds = {row["key"]: (row["label"], row["redemptions"], row["beneficiaries"])
             for row in stats(client, token, "holder_kind")["rows"]}
    assert kinds == {"person": ("个人", 4, 1), "company": ("企业", 1, 1)}

    names = {tier.code: tier.name for tier in db.session.scalars(select(Tier))}
    tiers = stats(client, token, "tier")["rows"]
    assert [(row["key"], row["label"]) for row in tiers] == [(code, names[code]) for code in ("excellent", "good")]
    assert {row["label"] for row in tiers} == {"诚信良好", "诚信优秀"}

    areas = stats(client, token, "area")["rows"]
    assert [(row["key"], row["label"], row["redemptions"]) for row in areas] == [("none", "未划分片区", 5)]

    partners = stats(client, token, "partner")["rows"]
    assert [(row["label"], row["beneficiaries"], row["offline"]) for row in partners] == [
        (db.session.get(Partner, shop.partner_id).name, 2, 1)]


def test_the_dashboards_groupings_are_the_schemas(client, token):
    for group_by in ("scenario", "partner", "tier", "day", "area", "holder_kind", "issuer"):
        answer = client.get("/api/office/stats.csv", headers={"Authorization": f"Bearer {token('office-admin')}"},
                            query_string={"group_by": group_by})
        assert answer.status_code == 200
        header = answer.get_data(as_text=True).lstrip("\ufeff").splitlines()[0].split(",")
        assert header[1:] == ["核销次数", "消费金额（元）", "优惠金额（元）", "受惠主体数", "线上核销", "离线核销", "离线占比"]
        assert all(not cell.isascii() for cell in header)


def test_beneficiaries_are_counted_only_when_asked(shop, client, token):  # noqa: F811
    redeem(client, shop, shop.pass_for(shop.holder()), shop.perk())
    answer = client.get("/api/office/stats", headers={"Authorization": f"Bearer {token('office-admin')}"},
                        query_string={"group_by": "scenario"}).json
    assert answer["rows"][0]["beneficiaries"] is None and answer["total"]["beneficiaries"] is None
    assert answer["rows"][0]["redemptions"] == 1
