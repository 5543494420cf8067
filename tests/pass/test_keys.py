"""The key ring through its CLI: create, rotate, revoke, trust, list; storage at rest; the public key list."""
from __future__ import annotations

import base64
import importlib
import json
import os
from pathlib import Path

import pytest
from cryptography.fernet import InvalidToken
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from backend.errors import DomainError
from backend.extensions import db
from tests.helpers import Phone, kid_of

codec = importlib.import_module("backend.pass.codec")
keyring = importlib.import_module("backend.pass.keyring")
models = importlib.import_module("backend.pass.models")

LOCAL = 230184


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def key_statuses(app) -> dict[int, str]:
    with app.app_context():
        return {key.kid: key.status for key in db.session.scalars(
            select(models.PassKey).where(models.PassKey.issuer_code == LOCAL))}


def test_create_is_idempotent_and_list_shows_every_key(ring_app):
    phone = Phone(ring_app())
    before = key_statuses(phone.app)
    result = phone.cli("pass-keys", "create")
    assert result.exit_code == 0, result.output
    assert key_statuses(phone.app) == before  # an active key exists: create adds none
    listing = phone.cli("pass-keys", "list")
    assert listing.exit_code == 0
    lines = [line.split("\t") for line in listing.stdout.splitlines()]
    assert [LOCAL, "active", "private"] in [[int(f[0]), f[2], f[5]] for f in lines]
    assert [370781, "active", "public only"] in [[int(f[0]), f[2], f[5]] for f in lines]  # demo partner city


def test_rotate_new_passes_use_the_new_kid_old_ones_verify_until_they_expire(ring_app):
    phone = Phone(ring_app())
    old = phone.issue()
    assert old.status_code == 201
    old_kid = kid_of(old.json["token"])
    result = phone.cli("pass-keys", "rotate")
    assert result.exit_code == 0, result.output
    new = phone.issue()
    new_kid = kid_of(new.json["token"])
    assert new_kid == old_kid + 1 and f"new active kid {new_kid}" in result.output
    statuses = key_statuses(phone.app)
    assert statuses[old_kid] == "retired" and statuses[new_kid] == "active"
    # The old pass is still good (rule 10: signed before the key's not_after) ...
    verdict = phone.verify(old.json["token"])
    assert verdict.status_code == 200 and verdict.json["kid"] == old_kid
    assert phone.verify(new.json["token"]).status_code == 200
    # ... until it expires like any pass, judged by the same codec at a later "now".
    with phone.app.app_context():
        service = importlib.import_module("backend.pass.service")
        context = importlib.import_module("backend.pass.context")
        levels = {1, 2, 3, 4}
        expires = codec.decode_unverified(old.json["token"])[0].expires_at
        with pytest.raises(DomainError) as expired:
            service.verify(ctx=context.key_context(), text=old.json["token"], tier_levels=levels, now=expires + 31)
        assert expired.value.code == "pass_expired"
    # Verifiers learn the retirement from the key list (and refuse passes it signs later, rule 10).
    keys = phone.client.get("/api/pass/keys").json
    local = next(issuer for issuer in keys["issuers"] if issuer["issuer"] == LOCAL)
    assert {key["kid"]: key["status"] for key in local["keys"]}[old_kid] == "retired"
    assert next(key for key in local["keys"] if key["kid"] == old_kid)["not_after"] is not None


def test_revoke_fails_every_pass_under_the_key_at_once_in_every_worker(ring_app):
    worker_a, worker_b = Phone(ring_app()), Phone(ring_app())
    doomed = worker_a.issue().json["token"]
    doomed_kid = kid_of(doomed)
    assert worker_b.verify(doomed).status_code == 200  # worker B has loaded (and cached) the ring
    assert worker_a.cli("pass-keys", "rotate").exit_code == 0
    survivor = worker_a.issue().json["token"]
    result = worker_a.cli("pass-keys", "revoke", str(doomed_kid))
    assert result.exit_code == 0 and f"revoked: issuer {LOCAL} kid {doomed_kid}" in result.output
    assert "警告" not in result.output  # issuing goes on under the new key, and Redis carried the news
    for worker in (worker_b, worker_a):  # no waiting: B's cache is refused by the new generation in Redis
        refused = worker.verify(doomed)
        assert refused.status_code == 400 and refused.json["code"] == "pass_key_revoked"
        assert refused.json["reason"] == "revoked"
        assert worker.verify(survivor).status_code == 200
    revoked = next(i for i in worker_b.client.get("/api/pass/keys").json["issuers"] if i["issuer"] == LOCAL)
    assert {key["kid"]: key["status"] for key in revoked["keys"]}[doomed_kid] == "revoked"


def test_without_redis_a_worker_reads_the_ring_for_every_use(ring_app):
    """A worker whose change feed cannot sync keeps no ring: a revocation bites at its next request."""
    worker_a = Phone(ring_app())
    cut_off = Phone(ring_app(REDIS_URL="redis://127.0.0.1:1/0"))  # this worker cannot reach Redis
    token = worker_a.issue().json["token"]
    assert cut_off.verify(token).status_code == 200
    assert worker_a.cli("pass-keys", "rotate").exit_code == 0
    assert worker_a.cli("pass-keys", "revoke", str(kid_of(token))).exit_code == 0
    for worker in (worker_a, cut_off):
        refused = worker.verify(token)
        assert refused.status_code == 400 and refused.json["code"] == "pass_key_revoked"


def test_revoking_the_only_active_key_stops_issuing_with_a_clear_code(ring_app):
    phone = Phone(ring_app())
    active = [kid for kid, status in key_statuses(phone.app).items() if status == "active"]
    result = phone.cli("pass-keys", "revoke", str(active[0]))
    assert result.exit_code == 0 and "已无有效签名密钥" in result.output
    refused = phone.issue()
    assert refused.status_code == 503 and refused.json["code"] == "service_unavailable"
    assert phone.cli("pass-keys", "create").exit_code == 0
    assert phone.issue().status_code == 201
    assert phone.cli("pass-keys", "revoke", "999").exit_code != 0  # no such key: refused, nothing changed


def test_private_keys_are_encrypted_at_rest_and_a_wrong_secret_signs_nothing(ring_app):
    phone = Phone(ring_app())
    secret = phone.app.config["PASS_KEY_SECRET"]
    with phone.app.app_context():
        rows = list(db.session.scalars(select(models.PassKey).where(models.PassKey.private_key_encrypted.is_not(None))))
        seal = db.session.scalar(select(models.SealKey))
        assert rows
        for row in rows:
            stored = bytes(row.private_key_encrypted)
            raw = keyring._fernet(secret).decrypt(stored)
            assert len(raw) == 32 and keyring.raw_public_bytes(Ed25519PrivateKey.from_private_bytes(raw)) == row.public_key
            for form in (raw, raw.hex().encode(), b64url(raw).encode(), base64.b64encode(raw)):
                assert form not in stored
            with pytest.raises(InvalidToken):
                keyring._fernet("not-the-secret").decrypt(stored)
        assert len(keyring._fernet(secret).decrypt(bytes(seal.key_encrypted))) == 32
    token = phone.issue().json["token"]
    wrong = Phone(ring_app(PASS_KEY_SECRET="not-the-secret"))
    refused = wrong.issue()
    assert refused.status_code == 503 and refused.json["code"] == "service_unavailable"
    assert wrong.verify(token).status_code == 200  # verifying needs public keys only


def test_key_list_has_an_etag_and_answers_304(ring_app):
    phone = Phone(ring_app())
    first = phone.client.get("/api/pass/keys")
    assert first.status_code == 200 and first.headers["ETag"]
    assert "public" in first.headers["Cache-Control"] and "max-age=60" in first.headers["Cache-Control"]
    body = first.json
    assert {"issuers", "tiers"} <= set(body)
    for issuer in body["issuers"]:
        assert {"issuer", "name", "keys"} <= set(issuer)
        for key in issuer["keys"]:
            assert key["alg"] == "Ed25519" and len(base64.urlsafe_b64decode(key["public_key"] + "=")) == 32
            assert key["status"] in {"active", "retired", "revoked"} and "not_before" in key and "not_after" in key
            assert "private" not in str(key)
    again = phone.client.get("/api/pass/keys", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert phone.cli("pass-keys", "rotate").exit_code == 0
    changed = phone.client.get("/api/pass/keys", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]


def test_a_trusted_partner_citys_pass_verifies_with_its_public_key_only(ring_app):
    phone = Phone(ring_app())
    partner = Ed25519PrivateKey.generate()  # the partner city's key: only its public half reaches us
    public = b64url(keyring.raw_public_bytes(partner))
    # Its level 3 counts as our 3 (online verification answers the tier a redemption would take).
    result = phone.cli("pass-keys", "trust", "130100", "石家庄市信用办", "5", public, "--not-before", "2025-01-01",
                       "--tier-map", "3=3")
    assert result.exit_code == 0, result.output
    now = int(__import__("time").time())
    token = codec.encode_pass(private_key=partner, issuer=130100, kid=5, kind="company", tier=3, issued_at=now - 5,
                              expires_at=now + 55, sealed_ref=os.urandom(16))
    verdict = phone.verify(token)
    assert verdict.status_code == 200
    assert (verdict.json["issuer"], verdict.json["kid"], verdict.json["holder_kind"], verdict.json["tier"]) == (
        130100, 5, "company", "excellent")
    listed = next(i for i in phone.client.get("/api/pass/keys").json["issuers"] if i["issuer"] == 130100)
    assert listed["name"] == "石家庄市信用办" and listed["keys"][0]["public_key"] == public
    with phone.app.app_context():
        stored = db.session.scalar(select(models.PassKey).where(models.PassKey.issuer_code == 130100))
        assert stored.private_key_encrypted is None
    # A pass of that city signed by anyone else is refused; so are bad trust commands.
    forged = codec.encode_pass(private_key=Ed25519PrivateKey.generate(), issuer=130100, kid=5, kind="company",
                               tier=3, issued_at=now - 5, expires_at=now + 55, sealed_ref=os.urandom(16))
    assert phone.verify(forged).json["reason"] == "signature"
    assert phone.cli("pass-keys", "trust", "130100", "石家庄", "5", public).exit_code != 0  # kid taken
    assert phone.cli("pass-keys", "trust", str(LOCAL), "本市", "9", public).exit_code != 0  # local keys are made here
    assert phone.cli("pass-keys", "trust", "130100", "石家庄", "6", "c2hvcnQ").exit_code != 0  # not 32 bytes
    assert phone.cli("pass-keys", "trust", str(2**24), "太大", "1", public).exit_code != 0  # not a 24-bit code
    # Revoking the partner's key (e.g. they report it stolen) works like our own.
    assert phone.cli("pass-keys", "revoke", "5", "--issuer", "130100").exit_code == 0
    assert phone.verify(token).json["code"] == "pass_key_revoked"


def test_trust_refuses_small_order_and_non_canonical_keys(ring_app):
    # Under the identity key, R = B, S = 1 "signs" anything for a lax verifier (docs/pass-format.md).
    vectors = json.loads((Path(__file__).resolve().parents[1] / "vectors" / "pass.json").read_text(encoding="utf-8"))
    listed = [key for issuer in vectors["issuers"] for key in issuer["keys"]]
    real = {key["public_key"] for key in listed if "test_only_private_key" in key}
    dropped = [key["public_key"] for key in listed if key["public_key"] not in real]  # dropped for the key itself
    assert len(dropped) == 3
    phone = Phone(ring_app())
    for kid, public in enumerate(vectors["small_order_keys"] + dropped, start=1):
        result = phone.cli("pass-keys", "trust", "130500", "邯郸市信用办", str(kid), public)
        assert result.exit_code != 0 and "not a valid Ed25519 public key" in result.output, public
    with phone.app.app_context():
        assert db.session.scalar(select(models.PassKey).where(models.PassKey.issuer_code == 130500)) is None
    good = b64url(keyring.raw_public_bytes(Ed25519PrivateKey.generate()))
    assert phone.cli("pass-keys", "trust", "130500", "邯郸市信用办", "1", good).exit_code == 0
    # What the server serves, a verifier reading the list by the spec's rules keeps whole.
    served = [key for issuer in phone.client.get("/api/pass/keys").json["issuers"] for key in issuer["keys"]]
    assert good in [key["public_key"] for key in served]
    assert [key["kid"] for key in served if codec.verifier_key_from_listing(key) is None] == []


def _public_key_starting_with(prefix: str) -> tuple[Ed25519PrivateKey, str]:
    for _ in range(200_000):  # "-" comes once in 64 keys, "--" once in 4,096
        key = Ed25519PrivateKey.generate()
        text = b64url(keyring.raw_public_bytes(key))
        if text.startswith(prefix) and not text.startswith(prefix + "-"):
            return key, text
    raise AssertionError(f"no key starting with {prefix!r}")


@pytest.mark.parametrize("prefix", ["-", "--"])
def test_a_public_key_beginning_with_a_dash_is_a_key_not_an_option(ring_app, prefix):
    # base64url uses "-", so one partner key in 64 begins with it; CI once drew such a key.
    phone = Phone(ring_app())
    partner, public = _public_key_starting_with(prefix)
    issuer = 130300 + len(prefix)  # a city of its own per case: the database is the module's
    result = phone.cli("pass-keys", "trust", str(issuer), "保定市信用办", "7", public, "--not-before", "2025-01-01",
                       "--tier-map", "2=2")
    assert result.exit_code == 0, result.output
    now = int(__import__("time").time())
    token = codec.encode_pass(private_key=partner, issuer=issuer, kid=7, kind="person", tier=2, issued_at=now - 5,
                              expires_at=now + 55, sealed_ref=os.urandom(16))
    assert phone.verify(token).status_code == 200
    # An option that really does not exist is still refused, not taken as a key.
    typo = phone.cli("pass-keys", "trust", "130200", "唐山", "1", public, "--not-befor", "2025-01-01")
    assert typo.exit_code != 0
