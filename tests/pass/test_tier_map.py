"""A partner city trusted by hand (`flask pass-keys trust`) gets its tier levels mapped to ours from the
command line (`--tier-map`, `flask pass-keys tier-map`): audited, served in the key list the scanners
cache, and what a redemption then accepts or refuses with `tier_not_accepted`."""
from __future__ import annotations

import base64
import importlib
import os
import time
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, select

from backend.audit import AuditEntry
from backend.extensions import db
from backend.federation.models import PartnerCity
from tests.merchants.conftest import Shop, utc

codec = importlib.import_module("backend.pass.codec")
models = importlib.import_module("backend.pass.models")

CITY = 130100  # 石家庄, trusted by hand
REGISTERED = 110000  # 北京, a partner city registered with `flask federation add`


@pytest.fixture
def shop(app):
    with app.app_context():
        made = Shop(app)
        yield made
        made.remove()
        db.session.execute(delete(models.PassKey).where(models.PassKey.issuer_code.in_((CITY, REGISTERED))))
        db.session.execute(delete(models.Issuer).where(models.Issuer.code.in_((CITY, REGISTERED))))
        db.session.commit()


@pytest.fixture
def city_key():
    key = Ed25519PrivateKey.generate()
    return key, base64.urlsafe_b64encode(key.public_key().public_bytes_raw()).rstrip(b"=").decode()


def visitor_pass(key, tier: int, issuer: int = CITY) -> str:
    now = int(time.time())
    return codec.encode_pass(private_key=key, issuer=issuer, kid=1, kind="person", tier=tier, issued_at=now - 5,
                             expires_at=now + 55, sealed_ref=os.urandom(16))


def redeem(client, shop, token: str, perk: int):
    return client.post("/api/redemptions", headers=shop.header(), json={
        "token": token, "perk_id": perk, "client_id": str(uuid.uuid4()), "scanned_at": utc().isoformat(),
        "amount_fen": 10000})


def served_map(client, issuer: int = CITY) -> dict:
    return next(entry for entry in client.get("/api/pass/keys").json["issuers"] if entry["issuer"] == issuer)["tier_map"]


def audited(action: str) -> list[dict]:
    db.session.expire_all()
    return [entry.detail for entry in db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == action, AuditEntry.target == f"issuer:{CITY}")
        .order_by(AuditEntry.id))]


def test_a_hand_trusted_city_redeems_at_the_levels_its_map_names_and_the_map_can_change(
        shop, client, runner, city_key):
    key, public = city_key
    perk = shop.perk()
    trusted = runner.invoke(args=["pass-keys", "trust", str(CITY), "石家庄市信用办", "1", public,
                                  "--not-before", "2025-01-01", "--tier-map", "2=2, 3=2"])
    assert trusted.exit_code == 0, trusted.output
    assert "tier map: 2=2, 3=2" in trusted.stdout
    assert served_map(client) == {"2": 2, "3": 2}  # scanners map offline as the server does
    assert redeem(client, shop, visitor_pass(key, 3), perk).status_code == 201
    refused = redeem(client, shop, visitor_pass(key, 1), perk)  # a level not named
    assert refused.status_code == 403 and refused.json["code"] == "tier_not_accepted"
    assert [detail["kid"] for detail in audited("pass_keys.trust")] == [1]
    assert audited("pass_keys.tier_map") == [{"issuer": CITY, "before": None, "after": {"2": 2, "3": 2}}]

    changed = runner.invoke(args=["pass-keys", "tier-map", str(CITY), "1=1,2=2"])
    assert changed.exit_code == 0, changed.output
    assert changed.stdout.strip() == "tier map: 1=1, 2=2"
    assert served_map(client) == {"1": 1, "2": 2}
    assert redeem(client, shop, visitor_pass(key, 1), perk).status_code == 201
    assert redeem(client, shop, visitor_pass(key, 3), perk).json["code"] == "tier_not_accepted"
    assert audited("pass_keys.tier_map")[-1] == {"issuer": CITY, "before": {"2": 2, "3": 2}, "after": {"1": 1, "2": 2}}

    # An empty map accepts no level, and says so.
    emptied = runner.invoke(args=["pass-keys", "tier-map", str(CITY), ""])
    assert emptied.exit_code == 0 and emptied.stdout == "" and "tier_not_accepted" in emptied.stderr
    assert redeem(client, shop, visitor_pass(key, 2), perk).json["code"] == "tier_not_accepted"


def test_trust_without_a_map_warns_that_no_level_is_accepted(shop, client, runner, city_key):
    _, public = city_key
    result = runner.invoke(args=["pass-keys", "trust", str(CITY), "石家庄市信用办", "1", public])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("trusted:") and "flask pass-keys tier-map 130100" in result.stderr
    assert served_map(client) == {}


def test_a_map_that_does_not_fit_changes_nothing(shop, client, runner, city_key):
    _, public = city_key
    cases = {
        "1-1": "应写作 对方等级=本市等级",
        "1=1,1=2": "对方等级 1 写了两次",
        "16=1": "不在 1 至 15 之间",
        "1=9": "本市没有信用等级 9",
    }
    for text, said in cases.items():
        result = runner.invoke(args=["pass-keys", "trust", str(CITY), "石家庄市信用办", "1", public, "--tier-map", text])
        assert result.exit_code != 0 and said in result.output, (text, result.output)
    assert db.session.get(models.Issuer, CITY) is None  # not even the key: nothing was trusted
    assert runner.invoke(args=["pass-keys", "trust", str(CITY), "石家庄市信用办", "1", public,
                               "--tier-map", "1=1"]).exit_code == 0
    for text, said in cases.items():
        result = runner.invoke(args=["pass-keys", "tier-map", str(CITY), text])
        assert result.exit_code != 0 and said in result.output, (text, result.output)
    assert served_map(client) == {"1": 1}
    unknown = runner.invoke(args=["pass-keys", "tier-map", "130500", "1=1"])
    assert unknown.exit_code != 0 and "没有合作城市签发机构 130500" in unknown.output
    local = runner.invoke(args=["pass-keys", "tier-map", str(client.application.config["ISSUER_CODE"]), "1=1"])
    assert local.exit_code != 0
    assert len(audited("pass_keys.tier_map")) == 1


def register_beijing(runner, city_key) -> None:
    """北京 trusted by hand, then registered as a partner city (as `flask federation add` would)."""
    _, public = city_key
    assert runner.invoke(args=["pass-keys", "trust", str(REGISTERED), "北京市信用办", "1", public]).exit_code == 0
    db.session.add(PartnerCity(url="https://xinyong.beijing.example/api/federation/trust-list",
                               pinned_key=os.urandom(32), issuer_code=REGISTERED, name="北京市信用办"))
    db.session.commit()


def test_a_registered_partner_citys_map_is_the_offices(shop, client, runner, city_key):
    """A city registered with `flask federation add` publishes its levels; the office maps them there."""
    register_beijing(runner, city_key)
    result = runner.invoke(args=["pass-keys", "tier-map", str(REGISTERED), "1=1"])
    assert result.exit_code != 0 and "互认城市" in result.output
    assert served_map(client, REGISTERED) == {}


def test_a_hand_trusted_city_with_its_own_ladder_is_read_by_the_levels_it_publishes(shop, client, runner, city_key):
    """`--levels` says which levels its passes carry (rule 9): its level 5, which we do not have, passes and
    counts as the level it maps to; our level 1, which it does not publish, is no pass of it at all."""
    key, public = city_key
    perk = shop.perk()
    trusted = runner.invoke(args=["pass-keys", "trust", str(CITY), "石家庄市信用办", "1", public,
                                  "--not-before", "2025-01-01", "--levels", "5, 3,2,4", "--tier-map", "5=4,3=2"])
    assert trusted.exit_code == 0, trusted.output
    assert "levels: 2,3,4,5" in trusted.stdout and "tier map: 3=2, 5=4" in trusted.stdout
    listed = next(entry for entry in client.get("/api/pass/keys").json["issuers"] if entry["issuer"] == CITY)
    assert listed["tier_levels"] == {"2": None, "3": None, "4": None, "5": None}
    visit = redeem(client, shop, visitor_pass(key, 5), perk)
    assert visit.status_code == 201 and visit.json["tier"] == "red_list", visit.json
    assert redeem(client, shop, visitor_pass(key, 4), perk).json["code"] == "tier_not_accepted"  # published, not mapped
    not_theirs = redeem(client, shop, visitor_pass(key, 1), perk)
    assert not_theirs.status_code == 400 and (not_theirs.json["code"], not_theirs.json["reason"]) == (
        "pass_invalid", "claims")
    assert audited("pass_keys.levels") == [{"issuer": CITY, "before": None, "after": [2, 3, 4, 5]}]

    # The map may name only levels it publishes, and the list may not drop a level the map names.
    outside = runner.invoke(args=["pass-keys", "tier-map", str(CITY), "1=1"])
    assert outside.exit_code != 0 and "对方城市没有等级 1" in outside.output
    dropped = runner.invoke(args=["pass-keys", "levels", str(CITY), "2,3,4"])
    assert dropped.exit_code != 0 and "对方等级 5 不在等级列表中" in dropped.output
    for text, said in {"0": "1 至 15", "2,2": "写了两次", "a": "1 至 15"}.items():
        result = runner.invoke(args=["pass-keys", "levels", str(CITY), text])
        assert result.exit_code != 0 and said in result.output, (text, result.output)
    assert len(audited("pass_keys.levels")) == 1 and served_map(client) == {"3": 2, "5": 4}

    # "" reads its passes against our levels again: its level 5 is then no level at all.
    assert runner.invoke(args=["pass-keys", "tier-map", str(CITY), "3=2"]).exit_code == 0
    ours = runner.invoke(args=["pass-keys", "levels", str(CITY), ""])
    assert ours.exit_code == 0 and ours.stdout == "", ours.output
    assert "tier_levels" not in next(entry for entry in client.get("/api/pass/keys").json["issuers"]
                                     if entry["issuer"] == CITY)
    assert redeem(client, shop, visitor_pass(key, 5), perk).json["reason"] == "claims"
    assert redeem(client, shop, visitor_pass(key, 3), perk).status_code == 201
    assert audited("pass_keys.levels")[-1] == {"issuer": CITY, "before": [2, 3, 4, 5], "after": None}


def test_a_registered_partner_citys_levels_are_its_lists(shop, runner, city_key):
    register_beijing(runner, city_key)
    result = runner.invoke(args=["pass-keys", "levels", str(REGISTERED), "1,2,3,4,5"])
    assert result.exit_code != 0 and "以其信任列表为准" in result.output
    assert db.session.get(models.Issuer, REGISTERED).tier_levels is None
