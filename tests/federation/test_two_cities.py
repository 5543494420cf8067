"""多地互认 between two real deployments on loopback: two gunicorn servers, two databases, two Redis
prefixes, two issuer codes (230184 肇东市 and 130100 石家庄市), exchanging signed trust lists."""
from __future__ import annotations

import importlib
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask_migrate import upgrade
from sqlalchemy import select

from backend.auth.models import MerchantStaff
from backend.credit.models import CreditSubject, Tier
from backend.errors import DomainError
from backend.extensions import db
from backend.federation import service
from backend.federation.models import PartnerCity
from backend.merchants import service as merchants_service
from backend.merchants.models import FailedAttempt, Partner, Perk, Redemption
from backend.audit import AuditEntry
from backend.timeutil import SHANGHAI
from tests.helpers import Gunicorn, app_maker, fresh_database

pytestmark = pytest.mark.slow
pass_service = importlib.import_module("backend.pass.service")
pass_codec = importlib.import_module("backend.pass.codec")
SAME_LEVELS = {"1": "basic", "2": "good", "3": "excellent", "4": "red_list"}

ZHAODONG = {"ISSUER_CODE": 230184, "ISSUER_NAME": "肇东市社会信用体系建设领导小组办公室"}
SHIJIAZHUANG = {"ISSUER_CODE": 130100, "ISSUER_NAME": "石家庄市社会信用体系建设领导小组办公室",
                "CASE_FEED_SETTLE_SECONDS": 0}


class City:
    """One deployment: its app (for CLI and in-process calls) and its gunicorn (for the other city)."""

    def __init__(self, app, server: Gunicorn):
        self.app, self.server = app, server
        self.runner, self.client = app.test_cli_runner(), app.test_client()

    def cli(self, *args) -> str:
        result = self.runner.invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return result.stdout.strip()

    @property
    def trust_list_url(self) -> str:
        return f"{self.server.base}/api/federation/trust-list"

    def issue(self) -> str:
        token = self.cli("demo", "token", "citizen")
        answer = self.client.post("/api/pass", headers={"Authorization": f"Bearer {token}"}, json={})
        assert answer.status_code == 201, answer.json
        return answer.json["token"]

    def issue_for(self, subject_id: int, *, tier_level: int | None = None, at: datetime | None = None) -> str:
        """A real pass of this city for another of its holders (the demo signs in one citizen only), at
        their tier or `tier_level`, issued now or `at`."""
        with self.app.app_context():
            subject = db.session.get(CreditSubject, subject_id)
            return pass_service.issue(ctx=service.pass_context.key_context(), holder_id=subject.id,
                                      holder_kind=subject.kind, tier_level=tier_level or subject.tier_level,
                                      now=int(at.timestamp()) if at else None).token

    def eligible_people(self, count: int) -> list[int]:
        with self.app.app_context():
            return list(db.session.scalars(select(CreditSubject.id).where(
                CreditSubject.kind == "person", CreditSubject.tier_level >= 1, CreditSubject.black_listed.is_(False))
                .order_by(CreditSubject.id).limit(count)))

    def redeem(self, pass_token: str, perk_id: int | None = None):
        cashier = self.cli("demo", "token", "cashier")
        if perk_id is None:
            with self.app.app_context():
                partner = db.session.scalar(select(Partner).where(Partner.name == "辣盆盆小龙虾饭店"))
                perk_id = partner.perks[0].id
        return self.client.post("/api/redemptions", headers={"Authorization": f"Bearer {cashier}"}, json={
            "token": pass_token, "perk_id": perk_id, "client_id": str(uuid.uuid4()),
            "scanned_at": datetime.now(timezone.utc).isoformat(), "amount_fen": 10000})

    def once_a_day_perk(self, times: int = 1) -> int:
        """A perk at the demo cashier's restaurant, `times` per holder per day (made on first use)."""
        with self.app.app_context():
            partner = db.session.scalar(select(Partner).where(Partner.name == "辣盆盆小龙虾饭店"))
            perk = db.session.scalar(select(Perk).where(Perk.partner_id == partner.id, Perk.kind == "free_entry",
                                                        Perk.limit_per_holder_per_day == times))
            if perk is None:
                perk = Perk(partner_id=partner.id, kind="free_entry", title=f"每日{times}次免费小食",
                            limit_per_holder_per_day=times)
                db.session.add(perk)
                db.session.commit()
            return perk.id

    def fresh_perk(self, times: int) -> int:
        """A new perk of its own at the demo cashier's restaurant, `times` per holder per day (no earlier use)."""
        with self.app.app_context():
            partner = db.session.scalar(select(Partner).where(Partner.name == "辣盆盆小龙虾饭店"))
            perk = Perk(partner_id=partner.id, kind="free_entry", title=f"每日{times}次免费参观{uuid.uuid4().hex[:6]}",
                        limit_per_holder_per_day=times)
            db.session.add(perk)
            db.session.commit()
            return perk.id

    def redeem_at(self, pass_token: str, perk_id: int, at: datetime):
        """A redemption judged in process at the moment `at` (scanned then, online), with this city's real
        judge of visitors: the issuing city is asked for a tag over HTTP as at any redemption. Returns what
        was recorded (its day and visitor tag) or the refusal's code."""
        with self.app.test_request_context():
            perk = db.session.get(Perk, perk_id)
            cashier = db.session.scalar(select(MerchantStaff).where(MerchantStaff.partner_id == perk.partner_id))
            request = merchants_service.RedeemRequest(
                token=pass_token, perk_id=perk_id, client_id=str(uuid.uuid4()), scanned_at=at, amount_fen=None,
                partner_id=perk.partner_id, staff_id=cashier.id)
            try:
                outcome = merchants_service.redeem(ctx=service.pass_context.key_context(), request=request,
                                                   offline_window_hours=24, now=at,
                                                   visitor=self.app.extensions["federation_visitor"])
            except DomainError as refusal:
                return str(refusal.code)
            return SimpleNamespace(local_day=outcome.redemption.local_day, visitor_tag=outcome.redemption.visitor_tag)

    def map_tiers(self, mapping: dict):
        """The office maps the partner's tier levels to ours (PUT .../tier-map as the office admin)."""
        admin = self.cli("demo", "token", "office-admin")
        with self.app.app_context():
            partner_id = self.partner().id
        answer = self.client.put(f"/api/federation/partners/{partner_id}/tier-map",
                                 headers={"Authorization": f"Bearer {admin}"}, json={"tier_map": mapping})
        assert answer.status_code == 200, answer.json
        return answer.json

    def cases(self) -> list[dict]:
        analyst = self.cli("demo", "token", "office-analyst")
        answer = self.client.get("/api/office/cases?limit=500", headers={"Authorization": f"Bearer {analyst}"})
        assert answer.status_code == 200, answer.json
        return answer.json["cases"]

    def keys(self) -> dict:
        return {issuer["issuer"]: {key["kid"]: key["status"] for key in issuer["keys"]}
                for issuer in self.client.get("/api/pass/keys").json["issuers"]}

    def partner(self) -> PartnerCity:
        return db.session.scalar(select(PartnerCity))


@pytest.fixture(scope="module")
def deployments(tmp_path_factory, redis_url):
    """Both cities, set up once for this file (migrations, demo data, two servers); the tests run in
    order, the last one stops the issuing city."""
    tmp_path = tmp_path_factory.mktemp("cities")
    with ExitStack() as stack:
        cities = []
        for label, settings in (("zhaodong", ZHAODONG), ("shijiazhuang", SHIJIAZHUANG)):
            url = stack.enter_context(fresh_database(tmp_path_factory, label))
            prefix = f"xymtest:{uuid.uuid4().hex[:8]}:"
            make = stack.enter_context(app_maker(url, redis_url, prefix))
            app = make(**settings)
            with app.app_context():
                upgrade()
            assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
            server = Gunicorn(app, tmp_path / f"{label}.log", workers=1,
                              env={key: str(value) for key, value in settings.items()})
            stack.callback(server.stop)
            cities.append(City(app, server))
        yield cities


@pytest.fixture
def two_cities(deployments):
    """The two cities with no partner registered and no foreign key kept: each test starts the exchange."""
    for city in deployments:
        with city.app.app_context():
            pass_models = service.pass_models
            for partner in db.session.scalars(select(PartnerCity)):
                if partner.issuer_code:
                    db.session.execute(db.delete(pass_models.PassKey).where(
                        pass_models.PassKey.issuer_code == partner.issuer_code))
                    db.session.execute(db.delete(pass_models.Issuer).where(
                        pass_models.Issuer.code == partner.issuer_code))
                db.session.delete(partner)
            db.session.execute(db.delete(AuditEntry).where(AuditEntry.action.like("federation.%")))
            db.session.commit()
            service.pass_context.key_ring_changed()
    return deployments


@contextmanager
def serving(document: dict):
    """A loopback server that answers every GET with `document` (a copy kept, tampered, or replayed)."""
    body = json.dumps(document).encode()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/trust-list"
    finally:
        server.shutdown()
        server.server_close()


def refused(city: City, url_document, *, now=None) -> str:
    """Sync the registered partner from another URL; returns the refusal's reason."""
    with city.app.app_context():
        partner = city.partner()
        partner.url = url_document
        db.session.commit()
        with pytest.raises(service.TrustListRejected) as rejected:
            service.sync_partner(partner, own_issuer=city.app.config["ISSUER_CODE"], actor="test", now=now)
        return rejected.value.reason


def exchange(zhaodong: City, shijiazhuang: City) -> None:
    """Keys are exchanged out of band, then each registers the other with the pinned key and syncs."""
    shijiazhuang.cli("federation", "add", zhaodong.trust_list_url, zhaodong.cli("federation", "key"))
    zhaodong.cli("federation", "add", shijiazhuang.trust_list_url, shijiazhuang.cli("federation", "key"))
    assert "已同步" in shijiazhuang.cli("federation", "sync")
    assert "已同步" in zhaodong.cli("federation", "sync")


def test_two_cities_trust_each_other_and_a_visitor_redeems_at_the_mapped_tier(two_cities):
    zhaodong, shijiazhuang = two_cities
    exchange(zhaodong, shijiazhuang)
    assert 230184 in shijiazhuang.keys() and 130100 in zhaodong.keys()

    # Until the office maps Zhaodong's tiers, none of them is accepted here.
    refused_visit = shijiazhuang.redeem(zhaodong.issue())
    assert refused_visit.status_code == 403 and refused_visit.json["code"] == "tier_not_accepted"
    # Shijiazhuang's office judges Zhaodong's ladder a step more lenient than its own.
    mapped = shijiazhuang.map_tiers({"1": "basic", "2": "basic", "3": "good", "4": "excellent"})
    assert [(tier["level"], tier["maps_to"]) for tier in mapped["tiers"]] == [
        (1, "basic"), (2, "basic"), (3, "good"), (4, "excellent")]
    assert mapped["tiers"][0]["criteria"]  # Zhaodong's criteria in words, for the office to judge by
    keys = shijiazhuang.client.get("/api/pass/keys").json
    foreign = {issuer["issuer"]: issuer for issuer in keys["issuers"]}
    assert foreign[230184]["local"] is False and foreign[230184]["tier_map"] == {"1": 1, "2": 1, "3": 2, "4": 3}
    assert "tier_map" not in foreign[130100]
    with shijiazhuang.app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "federation.tier_map"))
        assert entry.detail["after"] == {"1": 1, "2": 1, "3": 2, "4": 3} and entry.actor

    visitor_pass = zhaodong.issue()
    printed = pass_codec.decode_unverified(visitor_pass)[0].tier
    visit = shijiazhuang.redeem(visitor_pass)
    assert visit.status_code == 201, visit.json
    assert visit.json["tier"] == {1: "basic", 2: "basic", 3: "good", 4: "excellent"}[printed]
    home = shijiazhuang.redeem(shijiazhuang.issue())
    assert home.status_code == 201, home.json

    # A level mapped to "not accepted" is refused with its own code, and recorded with the issuing city.
    shijiazhuang.map_tiers({**SAME_LEVELS, str(printed): None})
    refused_visit = shijiazhuang.redeem(zhaodong.issue())
    assert refused_visit.status_code == 403 and refused_visit.json["code"] == "tier_not_accepted"
    with shijiazhuang.app.app_context():
        failure = db.session.scalar(select(FailedAttempt).order_by(FailedAttempt.id.desc()))
        assert (failure.code, failure.issuer_code) == ("tier_not_accepted", 230184)


def test_a_once_a_day_perk_holds_for_visitors_without_naming_them(two_cities):
    zhaodong, shijiazhuang = two_cities
    exchange(zhaodong, shijiazhuang)
    shijiazhuang.map_tiers(SAME_LEVELS)
    perk_id = shijiazhuang.once_a_day_perk()
    first, second = zhaodong.eligible_people(2)
    with shijiazhuang.app.app_context():
        since = db.session.scalar(select(db.func.max(Redemption.id))) or 0

    assert shijiazhuang.redeem(zhaodong.issue_for(first), perk_id).status_code == 201
    again = shijiazhuang.redeem(zhaodong.issue_for(first), perk_id)  # a fresh pass of the same visitor
    assert again.status_code == 409 and again.json["code"] == "limit_reached", again.json
    assert shijiazhuang.redeem(zhaodong.issue_for(second), perk_id).status_code == 201
    # Twice a day: the visitor's second use takes the second slot, the third is refused.
    twice = shijiazhuang.once_a_day_perk(2)
    assert [shijiazhuang.redeem(zhaodong.issue_for(second), twice).status_code for _ in range(3)] == [201, 201, 409]
    # A perk without a limit asks nothing of the issuing city and takes the same visitor again.
    assert shijiazhuang.redeem(zhaodong.issue_for(first)).status_code == 201
    assert shijiazhuang.redeem(zhaodong.issue_for(first)).status_code == 201
    (resident,) = shijiazhuang.eligible_people(1)  # and one of this city's own
    assert shijiazhuang.redeem(shijiazhuang.issue_for(resident)).status_code == 201

    with shijiazhuang.app.app_context():
        rows = list(db.session.scalars(select(Redemption).where(Redemption.id > since).order_by(Redemption.id)))
        rows, own = [row for row in rows if row.issuer_code == 230184], [row for row in rows if row.issuer_code == 130100]
        assert len(own) == 1 and own[0].subject_id is not None and own[0].visitor_tag is None
        limited = [row for row in rows if row.perk_id == perk_id]
        assert len(limited) == 2 and all(row.subject_id is None for row in rows)
        tags = [row.visitor_tag for row in limited]
        assert len(set(tags)) == 2 and all(len(tag) == 32 for tag in tags)
        assert [(row.visitor_tag, row.day_slot) for row in rows if row.perk_id == twice] == [(tags[1], 1), (tags[1], 2)]
        assert [row.visitor_tag for row in rows if row.perk_id not in (perk_id, twice)] == [None, None]
    # The case feed names the issuing city for the visitors' redemptions and for the refusal.
    cases = [case for case in shijiazhuang.cases() if case["perk_id"] == perk_id and case["kind"] != "void"]
    assert [(case["kind"], case["issuer"], case["code"]) for case in cases] == [
        ("redemption", 230184, None), ("refusal", 230184, "limit_reached"), ("redemption", 230184, None)]
    home = [case for case in shijiazhuang.cases() if case["kind"] == "redemption" and case["issuer"] == 130100]
    assert home  # this city's own citizens' cases name this city

    # Only a registered partner city, signing with its pinned key, gets a tag.
    impostor = Ed25519PrivateKey.generate()
    payload = {"format": "xym-visitor-tag-request/1", "from": 130100, "pass": zhaodong.issue_for(first),
               "at": datetime.now(timezone.utc).replace(microsecond=0).isoformat()}
    forged = requests.post(f"{zhaodong.server.base}/api/federation/visitor-tag", timeout=10, json={
        "payload": payload, "alg": "Ed25519", "key": service.b64(impostor.public_key().public_bytes_raw()),
        "signature": service.b64(impostor.sign(service.canonical(payload)))})
    assert forged.status_code == 403 and forged.json()["code"] == "forbidden"


def test_a_key_revoked_at_home_is_refused_abroad_after_one_sync(two_cities):
    zhaodong, shijiazhuang = two_cities
    shijiazhuang.cli("federation", "add", zhaodong.trust_list_url, zhaodong.cli("federation", "key"))
    shijiazhuang.cli("federation", "sync")
    shijiazhuang.map_tiers(SAME_LEVELS)
    old_pass = zhaodong.issue()
    zhaodong.cli("pass-keys", "rotate")
    zhaodong.cli("pass-keys", "revoke", "1")
    assert shijiazhuang.keys()[230184][1] == "active"  # not yet synced
    shijiazhuang.cli("federation", "sync")
    assert shijiazhuang.keys()[230184] == {1: "revoked", 2: "active"}
    refusal = shijiazhuang.redeem(old_pass)
    assert refusal.status_code == 400 and refusal.json["code"] == "pass_key_revoked"
    assert shijiazhuang.redeem(zhaodong.issue()).status_code == 201  # the new key works abroad


def test_tampered_foreign_keyed_replayed_and_expired_lists_change_nothing(two_cities):
    zhaodong, shijiazhuang = two_cities
    shijiazhuang.cli("federation", "add", zhaodong.trust_list_url, zhaodong.cli("federation", "key"))
    first = requests.get(zhaodong.trust_list_url, timeout=10).json()
    shijiazhuang.cli("federation", "sync")
    before = shijiazhuang.keys()

    tampered = json.loads(json.dumps(first))
    tampered["payload"]["keys"][0]["status"] = "retired"
    with serving(tampered) as url:
        assert refused(shijiazhuang, url) == "签名无效"

    impostor = Ed25519PrivateKey.generate()
    forged = {**first, "key": service.b64(impostor.public_key().public_bytes_raw()),
              "signature": service.b64(impostor.sign(service.canonical(first["payload"])))}
    with serving(forged) as url:
        assert "固定的公钥不同" in refused(shijiazhuang, url)

    # A newer list is applied, then the old one is served again: a replay.
    with shijiazhuang.app.app_context():
        shijiazhuang.partner().url = zhaodong.trust_list_url
        db.session.commit()
    zhaodong.cli("pass-keys", "rotate")
    newer = requests.get(zhaodong.trust_list_url, timeout=10).json()
    assert newer["payload"]["issued_at"] > first["payload"]["issued_at"] or \
        newer["payload"]["keys"] != first["payload"]["keys"]
    with serving(newer) as url:
        with shijiazhuang.app.app_context():
            partner = shijiazhuang.partner()
            partner.url = url
            db.session.commit()
            service.sync_partner(partner, own_issuer=130100, actor="test",
                                 now=datetime.now(timezone.utc) + timedelta(seconds=2))
    after_newer = shijiazhuang.keys()
    with serving(first) as url:
        issued = datetime.fromisoformat(first["payload"]["issued_at"].replace("Z", "+00:00"))
        with shijiazhuang.app.app_context():
            shijiazhuang.partner().last_issued_at = issued + timedelta(seconds=1)  # what "newer" carried
            db.session.commit()
        assert "重放" in refused(shijiazhuang, url)
        expired_at = issued + timedelta(seconds=first["payload"]["max_age_seconds"] + 1)
        assert refused(shijiazhuang, url, now=expired_at) in ("信任列表已过期", "信任列表早于已采用的版本（重放）")
    assert shijiazhuang.keys() == after_newer and max(after_newer[230184]) > max(before[230184])
    with shijiazhuang.app.app_context():
        reasons = [entry.detail["reason"] for entry in db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "federation.refused"))]
    assert len(reasons) == 4


@contextmanager
def a_fifth_level(city: City):
    """The city's ladder gets a level 5 above our 4 (石家庄's 诚信模范, say) for the block's duration."""
    with city.app.app_context():
        db.session.add(Tier(level=5, code="model", name="诚信模范"))
        db.session.commit()
    try:
        yield 5
    finally:
        with city.app.app_context():
            db.session.execute(db.delete(Tier).where(Tier.level == 5))
            db.session.commit()


def test_a_partner_with_a_longer_ladder_is_read_by_its_own_levels_and_mapped(two_cities):
    """Rule 9 reads a partner's pass by the levels its trust list publishes: its level 5, which we do not
    have, passes and redeems at the level the office mapped it to; a level it publishes that the office
    did not map is `tier_not_accepted`, not `pass_invalid`; a level it does not publish is no pass."""
    zhaodong, shijiazhuang = two_cities
    with a_fifth_level(zhaodong):
        exchange(zhaodong, shijiazhuang)
        listed = next(issuer for issuer in shijiazhuang.client.get("/api/pass/keys").json["issuers"]
                      if issuer["issuer"] == 230184)
        assert listed["tier_levels"] == {**SAME_LEVELS, "5": "model"}
        assert 5 not in {int(level) for level in shijiazhuang.client.get("/api/pass/keys").json["tier_levels"]}
        mapped = shijiazhuang.map_tiers({"1": "basic", "2": "good", "3": "excellent", "5": "red_list"})
        assert [(tier["level"], tier["maps_to"]) for tier in mapped["tiers"]] == [
            (1, "basic"), (2, "good"), (3, "excellent"), (4, None), (5, "red_list")]
        (holder,) = zhaodong.eligible_people(1)

        visit = shijiazhuang.redeem(zhaodong.issue_for(holder, tier_level=5))
        assert visit.status_code == 201 and visit.json["tier"] == "red_list", visit.json
        unmapped = shijiazhuang.redeem(zhaodong.issue_for(holder, tier_level=4))
        assert unmapped.status_code == 403 and unmapped.json["code"] == "tier_not_accepted", unmapped.json
        unpublished = shijiazhuang.redeem(zhaodong.issue_for(holder, tier_level=6))
        assert (unpublished.status_code, unpublished.json["code"], unpublished.json["reason"]) == (
            400, "pass_invalid", "claims")
        # The office cannot map a level the partner does not publish.
        admin = shijiazhuang.cli("demo", "token", "office-admin")
        with shijiazhuang.app.app_context():
            partner_id = shijiazhuang.partner().id
        refused_map = shijiazhuang.client.put(f"/api/federation/partners/{partner_id}/tier-map",
                                              headers={"Authorization": f"Bearer {admin}"},
                                              json={"tier_map": {"6": "basic"}})
        assert refused_map.status_code == 422 and "对方城市没有等级 6" in refused_map.json["message"]
        with shijiazhuang.app.app_context():
            row = db.session.scalar(select(Redemption).order_by(Redemption.id.desc()).where(Redemption.issuer_code == 230184))
            assert row.tier_level == 4  # recorded at the mapped tier


def test_a_day_counts_by_the_passes_issue_day_across_midnight_for_visitors_and_residents(two_cities):
    """Two passes of one holder issued at 23:59:30 and 23:59:50 (Asia/Shanghai) and scanned after midnight
    count on the day they were issued, both of them: the second is `limit_reached`, for a visitor (whose
    day tag names the issue day) as for a resident (whose slot does)."""
    zhaodong, shijiazhuang = two_cities
    exchange(zhaodong, shijiazhuang)
    shijiazhuang.map_tiers(SAME_LEVELS)
    tomorrow = datetime.now(SHANGHAI).date() + timedelta(days=1)
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=SHANGHAI).astimezone(timezone.utc)
    (visitor,), (resident,) = zhaodong.eligible_people(1), shijiazhuang.eligible_people(1)
    for city, holder in ((zhaodong, visitor), (shijiazhuang, resident)):
        perk_id = shijiazhuang.fresh_perk(1)
        early, late = (city.issue_for(holder, at=midnight - timedelta(seconds=ago)) for ago in (30, 10))
        first = shijiazhuang.redeem_at(early, perk_id, midnight + timedelta(seconds=5))
        second = shijiazhuang.redeem_at(late, perk_id, midnight + timedelta(seconds=10))
        assert not isinstance(first, str), first
        assert second == "limit_reached", city.app.config["ISSUER_CODE"]
        assert first.local_day == tomorrow - timedelta(days=1)  # the day the pass was issued
        assert (first.visitor_tag is not None) == (city is zhaodong)
        # The same with the first scanned before midnight, the second after (the slot and the tag both
        # name the issue day: no day of the first scan and another of the second).
        both_sides = shijiazhuang.fresh_perk(1)
        assert not isinstance(shijiazhuang.redeem_at(city.issue_for(holder, at=midnight - timedelta(seconds=30)),
                                                     both_sides, midnight - timedelta(seconds=25)), str)
        assert shijiazhuang.redeem_at(city.issue_for(holder, at=midnight - timedelta(seconds=10)), both_sides,
                                      midnight + timedelta(seconds=5)) == "limit_reached"
        # A pass issued after midnight is the next day's: its own slot.
        after = shijiazhuang.redeem_at(city.issue_for(holder, at=midnight + timedelta(seconds=1)), perk_id,
                                       midnight + timedelta(seconds=15))
        assert not isinstance(after, str) and after.local_day == tomorrow, after


def test_a_visitors_daily_limit_above_one_holds_under_concurrent_scans_over_http(two_cities):
    """A perk twice a day; six passes of each of two visitors scanned at once at Shijiazhuang's gunicorn,
    which asks Zhaodong's for their tags: exactly two per visitor are given, the rest `limit_reached`."""
    zhaodong, shijiazhuang = two_cities
    exchange(zhaodong, shijiazhuang)
    shijiazhuang.map_tiers(SAME_LEVELS)
    perk_id = shijiazhuang.fresh_perk(2)
    visitors = zhaodong.eligible_people(2)
    passes = [(visitor, zhaodong.issue_for(visitor)) for visitor in visitors for _ in range(6)]
    cashier = shijiazhuang.cli("demo", "token", "cashier")
    start = threading.Barrier(len(passes))

    def scan(token: str):
        start.wait()
        answer = requests.post(f"{shijiazhuang.server.base}/api/redemptions", timeout=30,
                               headers={"Authorization": f"Bearer {cashier}"}, json={
                                   "token": token, "perk_id": perk_id, "client_id": str(uuid.uuid4()),
                                   "scanned_at": datetime.now(timezone.utc).isoformat()})
        return answer.status_code, answer.json().get("code")

    with ThreadPoolExecutor(max_workers=len(passes)) as pool:
        outcomes = list(pool.map(scan, [token for _, token in passes]))
    for visitor in visitors:
        mine = sorted(outcome for (holder, _), outcome in zip(passes, outcomes) if holder == visitor)
        assert mine == [(201, None)] * 2 + [(409, "limit_reached")] * 4, outcomes
    with shijiazhuang.app.app_context():
        rows = db.session.execute(select(Redemption.visitor_tag, Redemption.day_slot)
                                  .where(Redemption.perk_id == perk_id)).all()
    tags = {tag for tag, _ in rows}
    assert len(tags) == 2 and sorted(rows) == sorted((tag, slot) for tag in tags for slot in (1, 2))


def given(city: City, perk_id: int) -> int:
    with city.app.app_context():
        return db.session.scalar(select(db.func.count()).select_from(Redemption).where(Redemption.perk_id == perk_id))


def test_an_unreachable_city_keeps_its_last_list_until_it_expires_then_its_passes_stop(two_cities):
    zhaodong, shijiazhuang = two_cities
    exchange(zhaodong, shijiazhuang)
    shijiazhuang.map_tiers(SAME_LEVELS)
    perk_id = shijiazhuang.once_a_day_perk()
    visitor_pass, limited_pass = zhaodong.issue(), zhaodong.issue()
    given_before = given(shijiazhuang, perk_id)
    zhaodong.server.stop()  # the issuing city is down
    assert "无法获取" in refused(shijiazhuang, zhaodong.trust_list_url)
    assert shijiazhuang.redeem(visitor_pass).status_code == 201  # its last list still holds
    # A limited perk cannot be checked without the issuing city: refused, never given unchecked.
    unchecked = shijiazhuang.redeem(limited_pass, perk_id)
    assert unchecked.status_code == 409 and unchecked.json["code"] == "issuer_unreachable"
    with shijiazhuang.app.app_context():
        failure = db.session.scalar(select(FailedAttempt).order_by(FailedAttempt.id.desc()))
        assert (failure.code, failure.issuer_code, failure.perk_id) == ("issuer_unreachable", 230184, perk_id)
    assert given(shijiazhuang, perk_id) == given_before
    later = datetime.now(timezone.utc) + timedelta(days=2)
    assert "无法获取" in refused(shijiazhuang, zhaodong.trust_list_url, now=later)
    assert 230184 not in shijiazhuang.keys()  # past its maximum age: no longer trusted
    stopped = shijiazhuang.redeem(zhaodong.issue())
    assert stopped.status_code == 400 and stopped.json["code"] == "pass_unknown_issuer"
