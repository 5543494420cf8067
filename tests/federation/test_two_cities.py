"""多地互认 between two real deployments on loopback: two gunicorn servers, two databases, two Redis
prefixes, two issuer codes (230184 肇东市 and 130100 石家庄市), exchanging signed trust lists."""
from __future__ import annotations

import json
import threading
import uuid
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask_migrate import upgrade
from sqlalchemy import select

from backend.extensions import db
from backend.federation import service
from backend.federation.models import PartnerCity
from backend.merchants.models import Partner
from backend.audit import AuditEntry
from tests.helpers import Gunicorn, app_maker, fresh_database

pytestmark = pytest.mark.slow

ZHAODONG = {"ISSUER_CODE": 230184, "ISSUER_NAME": "肇东市社会信用体系建设领导小组办公室"}
SHIJIAZHUANG = {"ISSUER_CODE": 130100, "ISSUER_NAME": "石家庄市社会信用体系建设领导小组办公室"}


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

    def redeem(self, pass_token: str):
        cashier = self.cli("demo", "token", "cashier")
        with self.app.app_context():
            partner = db.session.scalar(select(Partner).where(Partner.name == "辣盆盆小龙虾饭店"))
            perk_id = partner.perks[0].id
        return self.client.post("/api/redemptions", headers={"Authorization": f"Bearer {cashier}"}, json={
            "token": pass_token, "perk_id": perk_id, "client_id": str(uuid.uuid4()),
            "scanned_at": datetime.now(timezone.utc).isoformat(), "amount_fen": 10000})

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


def test_two_cities_trust_each_other_and_a_visitor_redeems(two_cities):
    zhaodong, shijiazhuang = two_cities
    # Keys are exchanged out of band, then each registers the other with the pinned key.
    shijiazhuang.cli("federation", "add", zhaodong.trust_list_url, zhaodong.cli("federation", "key"))
    zhaodong.cli("federation", "add", shijiazhuang.trust_list_url, shijiazhuang.cli("federation", "key"))
    assert "已同步" in shijiazhuang.cli("federation", "sync")
    assert "已同步" in zhaodong.cli("federation", "sync")
    assert 230184 in shijiazhuang.keys() and 130100 in zhaodong.keys()

    visitor_pass = zhaodong.issue()
    visit = shijiazhuang.redeem(visitor_pass)
    assert visit.status_code == 201, visit.json
    home = shijiazhuang.redeem(shijiazhuang.issue())
    assert home.status_code == 201, home.json


def test_a_key_revoked_at_home_is_refused_abroad_after_one_sync(two_cities):
    zhaodong, shijiazhuang = two_cities
    shijiazhuang.cli("federation", "add", zhaodong.trust_list_url, zhaodong.cli("federation", "key"))
    shijiazhuang.cli("federation", "sync")
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


def test_an_unreachable_city_keeps_its_last_list_until_it_expires_then_its_passes_stop(two_cities):
    zhaodong, shijiazhuang = two_cities
    shijiazhuang.cli("federation", "add", zhaodong.trust_list_url, zhaodong.cli("federation", "key"))
    shijiazhuang.cli("federation", "sync")
    visitor_pass = zhaodong.issue()
    zhaodong.server.stop()  # the issuing city is down
    assert "无法获取" in refused(shijiazhuang, zhaodong.trust_list_url)
    assert shijiazhuang.redeem(visitor_pass).status_code == 201  # its last list still holds
    later = datetime.now(timezone.utc) + timedelta(days=2)
    assert "无法获取" in refused(shijiazhuang, zhaodong.trust_list_url, now=later)
    assert 230184 not in shijiazhuang.keys()  # past its maximum age: no longer trusted
    stopped = shijiazhuang.redeem(zhaodong.issue())
    assert stopped.status_code == 400 and stopped.json["code"] == "pass_unknown_issuer"
