"""The pass over HTTP: issuing (and who gets no pass), QR images read by a real decoder, verification."""
from __future__ import annotations

import importlib
import io
import os
import time
from datetime import datetime

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image
from sqlalchemy import func, select

from backend.extensions import db
from tests.helpers import Phone, age_keys, statements_sent

codec = importlib.import_module("backend.pass.codec")
service = importlib.import_module("backend.pass.service")
IssueOut = importlib.import_module("backend.pass.schemas").IssueOut
context = importlib.import_module("backend.pass.context")

VERIFY_FIELDS = {"valid", "issuer", "kid", "holder_kind", "tier", "tier_name", "expires_at"}


def seconds(iso: str) -> int:
    return int(datetime.fromisoformat(iso).timestamp())


# -- issuing --------------------------------------------------------------------------------------

def test_citizen_gets_a_pass_and_is_told_when_to_refresh(client, auth_header, app):
    response = client.post("/api/pass", headers=auth_header("citizen"), json={})
    assert response.status_code == 201
    body = response.json
    # Sent as built (backend/responses.py): exactly what the documented schema says.
    assert set(body) == set(IssueOut().fields) and IssueOut().validate(body) == {}
    assert body["token"].startswith("XYM:") and len(body["token"]) == 147
    assert (body["holder_kind"], body["tier"], body["tier_name"]) == ("person", "good", "诚信良好")
    assert seconds(body["expires_at"]) - seconds(body["issued_at"]) == app.config["PASS_TTL_SECONDS"] == 60
    assert abs(seconds(body["issued_at"]) - time.time()) < 5
    assert body["refresh_after_seconds"] == 45  # refreshed well before expiry: the code shown is always valid
    claims = codec.decode_unverified(body["token"])[0]
    assert (claims.kind, claims.tier, claims.issuer) == ("person", 2, app.config["ISSUER_CODE"])


def test_pass_lifetime_follows_the_setting(make_app, auth_header):
    short = make_app(PASS_TTL_SECONDS=30)
    body = short.test_client().post("/api/pass", headers=auth_header("citizen"), json={}).json
    assert seconds(body["expires_at"]) - seconds(body["issued_at"]) == 30
    assert body["refresh_after_seconds"] == 15


def test_company_representative_gets_the_company_pass(client, auth_header):
    for body in ({}, {"holder": "company"}):
        response = client.post("/api/pass", headers=auth_header("company"), json=body)
        assert response.status_code == 201
        assert response.json["holder_kind"] == "company" and response.json["tier"] == "good"
        assert codec.decode_unverified(response.json["token"])[0].kind == "company"
    # The representative has no personal identity bound: no personal pass.
    refused = client.post("/api/pass", headers=auth_header("company"), json={"holder": "person"})
    assert refused.status_code == 403 and refused.json["code"] == "holder_not_bound"


def test_representative_chooses_between_own_and_company_pass(client, citizen):
    header = citizen(subject={"score": 1130, "tier_level": 3}, company={"rating": "AA", "tier_level": 2})
    assert client.post("/api/pass", headers=header, json={}).json["holder_kind"] == "person"
    company = client.post("/api/pass", headers=header, json={"holder": "company"}).json
    assert (company["holder_kind"], company["tier"]) == ("company", "good")


@pytest.mark.parametrize("who, code", [
    ({"subject": {"score": 1100, "tier_level": 2, "black_listed": True}}, "holder_blacklisted"),
    ({"subject": {"score": 600, "tier_level": 0}}, "holder_not_eligible"),
    ({}, "holder_not_bound"),  # signed in, identity never bound
    ({"subject": {"score": 1100, "tier_level": 2}, "holder": "company"}, "holder_not_bound"),  # represents no company
    ({"company": {"rating": "D", "tier_level": 0, "black_listed": True}, "holder": "company"}, "holder_blacklisted"),
])
def test_who_gets_no_pass_gets_a_clear_code(client, citizen, who, code):
    holder = who.pop("holder", None)
    header = citizen(**who)
    for path in ("/api/pass", "/api/pass/qr.png", "/api/pass/qr.svg"):
        if path == "/api/pass":
            response = client.post(path, headers=header, json={"holder": holder} if holder else {})
        else:
            response = client.get(path + (f"?holder={holder}" if holder else ""), headers=header)
        assert response.status_code == 403, path
        assert response.mimetype == "application/problem+json" and response.json["code"] == code
        assert "token" not in response.json


def test_demo_blacklisted_citizen_gets_no_pass(client, auth_header):
    response = client.post("/api/pass", headers=auth_header("citizen-blacklisted"), json={})
    assert response.status_code == 403 and response.json["code"] == "holder_blacklisted"


def test_only_signed_in_citizens_get_passes(client, auth_header):
    assert client.post("/api/pass", json={}).json["code"] == "unauthorized"
    for role in ("cashier", "office-admin"):
        assert client.post("/api/pass", headers=auth_header(role), json={}).json["code"] == "forbidden"
    assert client.post("/api/pass", headers=auth_header("citizen"), json={"holder": "cat"}).status_code == 422


def test_issuing_writes_nothing_to_the_database(app, client, auth_header):
    header = auth_header("citizen")
    with app.app_context():
        def counts():
            return {table.name: db.session.scalar(select(func.count()).select_from(table))
                    for table in db.metadata.sorted_tables}

        before = counts()
        db.session.commit()
        with statements_sent(db.engine, first_word=True) as statements:
            for _ in range(5):
                assert client.post("/api/pass", headers=header, json={}).status_code == 201
                assert client.get("/api/pass/qr.png", headers=header).status_code == 200
                assert client.get("/api/pass/qr.svg", headers=header).status_code == 200
        assert counts() == before
    # Reads only (none at all once the holder's standing is cached in Redis).
    assert set(statements) <= {"SELECT"}, set(statements)


# -- QR images --------------------------------------------------------------------------------------

def test_png_of_a_fresh_pass_is_read_by_a_real_decoder_and_verifies(client, auth_header):
    image = client.get("/api/pass/qr.png", headers=auth_header("citizen"))
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.headers["Cache-Control"] == "no-store"
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(image.data)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1
    text = found[0].text
    assert (found[0].extra["Version"], found[0].extra["ECLevel"]) == ("6", "M")
    assert text.startswith("XYM:") and len(text) == 147
    verdict = client.post("/api/pass/verify", headers=auth_header("cashier"), json={"token": text})
    assert verdict.status_code == 200
    assert verdict.json["tier"] == image.headers["X-Pass-Tier"] == "good"
    assert verdict.json["holder_kind"] == image.headers["X-Pass-Holder-Kind"] == "person"
    assert verdict.json["expires_at"] == image.headers["X-Pass-Expires-At"]
    assert int(image.headers["X-Pass-Refresh-After"]) == 45


def test_svg_of_a_fresh_pass(client, auth_header):
    image = client.get("/api/pass/qr.svg?holder=company", headers=auth_header("company"))
    assert image.status_code == 200 and image.mimetype == "image/svg+xml"
    assert image.data.startswith(b"<svg") and b'viewBox="0 0 49 49"' in image.data
    assert image.headers["X-Pass-Holder-Kind"] == "company"


# -- verification -----------------------------------------------------------------------------------

def test_verify_returns_kind_tier_and_expiry_never_the_holder(client, auth_header):
    issued = client.post("/api/pass", headers=auth_header("company"), json={}).json
    for role in ("cashier", "merchant-admin"):
        verdict = client.post("/api/pass/verify", headers=auth_header(role), json={"token": issued["token"]})
        assert verdict.status_code == 200
        assert set(verdict.json) == VERIFY_FIELDS
        assert verdict.json["valid"] is True
        assert (verdict.json["holder_kind"], verdict.json["tier"]) == ("company", "good")
        assert verdict.json["expires_at"] == issued["expires_at"]


def test_verify_is_for_merchants(client, auth_header):
    token = client.post("/api/pass", headers=auth_header("citizen"), json={}).json["token"]
    assert client.post("/api/pass/verify", json={"token": token}).status_code == 401
    for role in ("citizen", "office-analyst"):
        assert client.post("/api/pass/verify", headers=auth_header(role), json={"token": token}).status_code == 403


def _sign(app, *, now: int) -> str:
    """A pass made by our own service (real keys), as of `now`."""
    with app.app_context():
        return service.issue(ctx=context.key_context(), holder_id=1, holder_kind="person", tier_level=2,
                             now=now).token


def test_every_failure_has_its_own_code_and_reason(ring_app):
    phone = Phone(ring_app())
    age_keys(phone.app)
    now = int(time.time())
    expired_token = _sign(phone.app, now=now - 200)  # by a key that stays valid (retired, not revoked)
    assert phone.cli("pass-keys", "rotate").exit_code == 0
    stranger = Ed25519PrivateKey.generate()

    def forged(issuer: int, kid: int) -> str:
        return codec.encode_pass(private_key=stranger, issuer=issuer, kid=kid, kind="person", tier=2,
                                 issued_at=now, expires_at=now + 60, sealed_ref=os.urandom(16))

    revoked_token = _sign(phone.app, now=now)
    assert phone.cli("pass-keys", "rotate").exit_code == 0
    assert phone.cli("pass-keys", "revoke", str(codec.decode_unverified(revoked_token)[0].kid)).exit_code == 0
    raw = bytearray(codec.b45decode(phone.issue().json["token"][4:]))
    raw[40] ^= 0x01  # one bit of the signature
    cases = [
        ("hello", 400, "pass_invalid", "prefix"),
        ("", 400, "pass_invalid", "prefix"),
        ("XYM:!!", 400, "pass_invalid", "encoding"),
        ("XYM:" + codec.b45encode(b"\x07" + bytes(raw[1:])), 400, "pass_invalid", "version"),
        ("XYM:" + codec.b45encode(bytes(raw[:-2])), 400, "pass_invalid", "length"),
        ("XYM:" + codec.b45encode(bytes(raw)), 400, "pass_invalid", "signature"),
        (forged(110101, 1), 400, "pass_unknown_issuer", "issuer"),
        (forged(230184, 999), 400, "pass_unknown_key", "key"),
        (revoked_token, 400, "pass_key_revoked", "revoked"),
        (expired_token, 410, "pass_expired", "expired"),
        (_sign(phone.app, now=now + 200), 400, "pass_not_yet_valid", "not_yet_valid"),
    ]
    for token, status, code, reason in cases:
        response = phone.verify(token)
        assert (response.status_code, response.json["code"], response.json["reason"]) == (status, code, reason), token
        assert response.mimetype == "application/problem+json" and response.json["message"]
    assert phone.verify("x" * 5000).json["code"] == "validation_error"


def test_clock_skew_is_a_setting(ring_app):
    lenient = Phone(ring_app())  # default skew: 30 s
    age_keys(lenient.app)
    late = _sign(lenient.app, now=int(time.time()) - 75)  # expired 15 s ago
    early = _sign(lenient.app, now=int(time.time()) + 20)  # issued 20 s in the verifier's future
    assert lenient.verify(late).status_code == 200 and lenient.verify(early).status_code == 200
    strict = Phone(ring_app(PASS_CLOCK_SKEW_SECONDS=5))
    assert strict.verify(late).json["code"] == "pass_expired"
    assert strict.verify(early).json["code"] == "pass_not_yet_valid"
    assert strict.client.get("/api/pass/keys").json["skew_seconds"] == 5  # scanners learn the same tolerance
