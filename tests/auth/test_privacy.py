"""PIPL: the privacy notice and the consent to it before the first pass, and deleting one's account
(identity unbound, phone erased, sessions revoked; the redemptions kept under the alias only)."""
from __future__ import annotations

from sqlalchemy import select

from backend.audit import AuditEntry
from backend.auth.models import CitizenAccount, CompanyRepresentative, SmsCode
from backend.auth.privacy import NOTICE_VERSION
from backend.extensions import db
from backend.merchants.models import Redemption
from tests.helpers import body


def sign_in(client, outbox, phone: str) -> dict:
    client.post("/api/auth/sms/send", json={"phone": phone})
    pair = client.post("/api/auth/sms/login", json={"phone": phone, "code": outbox.last_code(phone)}).json
    return {"Authorization": f"Bearer {pair['access_token']}", "refresh": pair["refresh_token"]}


def headers_of(signed_in: dict) -> dict:
    return {"Authorization": signed_in["Authorization"]}


def test_the_notice_is_public_chinese_and_names_the_office_and_the_rights(app, client):
    notice = client.get("/api/auth/privacy").json
    assert notice["version"] == NOTICE_VERSION and notice["controller"] == app.config["ISSUER_NAME"]
    text = " ".join(section["title"] + section["text"] for section in notice["sections"])
    for needed in ("手机号", "身份证号", "信用等级", "使用记录", "商户", "保存", "注销", "撤回", "不同意"):
        assert needed in text, needed


def test_no_pass_before_consent_then_the_version_and_time_are_recorded(app, client, outbox, fresh_phone, new_person):
    signed_in = sign_in(client, outbox, fresh_phone())
    headers = headers_of(signed_in)
    me = client.get("/api/auth/me", headers=headers).json
    assert me["consent"] is None and me["privacy_version"] == NOTICE_VERSION
    client.post("/api/auth/identity", headers=headers, json={"name": "张三", "id_number": new_person()})
    refused = client.post("/api/pass", headers=headers, json={})
    assert (refused.status_code, refused.json["code"]) == (403, "consent_required")
    assert refused.json["message"] == "请先阅读并同意个人信息保护告知书"
    assert client.get("/api/pass/qr.svg", headers=headers).json["code"] == "consent_required"
    outdated = client.post("/api/auth/consent", headers=headers, json={"version": "2020-01-01"})
    assert (outdated.status_code, outdated.json["code"]) == (409, "consent_outdated")
    agreed = client.post("/api/auth/consent", headers=headers, json={"version": NOTICE_VERSION})
    assert agreed.status_code == 200 and agreed.json["version"] == NOTICE_VERSION
    assert client.get("/api/auth/me", headers=headers).json["consent"] == agreed.json
    assert client.post("/api/pass", headers=headers, json={}).status_code == 201
    # Agreeing again changes nothing: the first time is the one kept.
    assert client.post("/api/auth/consent", headers=headers, json={"version": NOTICE_VERSION}).json == agreed.json
    with app.app_context():
        account = db.session.scalar(select(CitizenAccount).where(CitizenAccount.id == me["id"]))
        assert account.privacy_version == NOTICE_VERSION and account.privacy_agreed_at is not None
        logged = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "privacy_consent",
                                                             AuditEntry.actor == f"citizen:{me['id']}")).all()
        assert [entry.detail for entry in logged] == [{"version": NOTICE_VERSION}]


def test_a_new_notice_asks_again(app, client, new_citizen, monkeypatch):
    from backend.auth import holders, privacy
    _, headers = new_citizen()
    monkeypatch.setattr(privacy, "NOTICE_VERSION", "2027-01-01")
    monkeypatch.setattr(holders, "NOTICE_VERSION", "2027-01-01")
    assert client.post("/api/pass", headers=headers, json={}).json["code"] == "consent_required"
    assert client.get("/api/auth/me", headers=headers).json["privacy_version"] == "2027-01-01"


def _perk_id(client) -> int:
    partners = client.get("/api/partners").json["partners"]
    lapenpen = next(p for p in partners if p["name"] == "辣盆盆小龙虾饭店")
    return next(perk["id"] for perk in lapenpen["perks"] if perk["kind"] == "discount")


def test_deleting_the_account_erases_phone_and_identity_revokes_sessions_and_keeps_redemptions_under_the_alias(
        app, client, outbox, fresh_phone, new_person, auth_header, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_SMS_PER_PHONE", "10/minute")  # three codes to one phone here
    phone = fresh_phone()
    signed_in = sign_in(client, outbox, phone)
    headers = headers_of(signed_in)
    client.post("/api/auth/consent", headers=headers, json={"version": NOTICE_VERSION})
    id_number = new_person()
    assert client.post("/api/auth/identity", headers=headers, json={"name": "李四", "id_number": id_number}).status_code == 200
    token = client.post("/api/pass", headers=headers, json={}).json["token"]
    redeemed = client.post("/api/redemptions", headers=auth_header("cashier"), json=body(token, _perk_id(client)))
    assert redeemed.status_code == 201, redeemed.json
    account_id = client.get("/api/auth/me", headers=headers).json["id"]
    client.post("/api/auth/sms/send", json={"phone": phone})  # an unused code of the phone, still stored
    with app.app_context():
        subject_id = db.session.get(CitizenAccount, account_id).subject_id
        db.session.add(CompanyRepresentative(account_id=account_id, company_subject_id=subject_id))
        db.session.commit()

    assert client.delete("/api/auth/account", headers=headers).status_code == 204

    # Every session is over: this access token, and the refresh token of the sign-in.
    assert client.get("/api/auth/me", headers=headers).status_code == 401
    assert client.post("/api/auth/refresh", json={"refresh_token": signed_in["refresh"]}).status_code == 401
    with app.app_context():
        account = db.session.get(CitizenAccount, account_id)
        assert (account.phone, account.wechat_openid, account.wechat_oa_openid) == (None, None, None)
        assert (account.subject_id, account.bound_at, account.identity_name_hash) == (None, None, None)
        assert account.disabled and account.deleted_at is not None
        assert db.session.scalars(select(SmsCode).where(SmsCode.phone == phone)).all() == []
        reps = db.session.scalars(select(CompanyRepresentative).where(CompanyRepresentative.account_id == account_id))
        assert all(rep.revoked_at is not None for rep in reps)
        # The redemption stays, as the merchant's and the office's record, with the holder's alias.
        kept = db.session.get(Redemption, redeemed.json["id"])
        assert kept is not None and kept.subject_id == subject_id
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "account_deleted",
                                                           AuditEntry.target == f"citizen:{account_id}"))
        assert entry is not None and phone not in str(entry.detail)

    # The same phone signs in as a new person, with nothing of the old account.
    again = headers_of(sign_in(client, outbox, phone))
    me = client.get("/api/auth/me", headers=again).json
    assert me["id"] != account_id and me["identity_bound"] is False and me["consent"] is None
    # The identity is free to bind again (to the new account, after the notice).
    client.post("/api/auth/consent", headers=again, json={"version": NOTICE_VERSION})
    assert client.post("/api/auth/identity", headers=again, json={"name": "李四", "id_number": id_number}).status_code == 200


def test_a_deleted_account_cannot_be_deleted_or_used_again(app, client, new_citizen):
    _, headers = new_citizen()
    assert client.delete("/api/auth/account", headers=headers).status_code == 204
    assert client.delete("/api/auth/account", headers=headers).status_code == 401
    assert client.post("/api/auth/consent", headers=headers, json={"version": NOTICE_VERSION}).status_code == 401


def test_only_a_citizen_deletes_and_only_their_own(client, new_citizen, auth_header):
    _, mine = new_citizen()
    other_id, _ = new_citizen()
    assert client.delete("/api/auth/account", headers=auth_header("cashier")).status_code == 403
    assert client.delete("/api/auth/account").status_code == 401
    assert client.delete("/api/auth/account", headers=mine).status_code == 204
    with client.application.app_context():
        assert db.session.get(CitizenAccount, other_id).deleted_at is None
