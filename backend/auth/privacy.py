"""The privacy notice (PIPL 个人信息保护法 art. 17), the citizen's consent to it, and deleting one's account.

A citizen agrees to the notice of NOTICE_VERSION before any pass or credit data is served
(`holders.holder_subject` refuses with `consent_required`); a new version of the text gets a new
version and asks everyone again. Deleting an account keeps only what the records of redemptions
need, under an alias: the account's row (its id is the alias), without phone, openids or identity.
docs/security.md gives the reasons.
"""
from __future__ import annotations

import logging

from sqlalchemy import delete, select, update

from .. import audit
from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..extensions import db
from ..timeutil import iso
from . import sessions
from .models import CitizenAccount, CompanyRepresentative, SmsCode

log = logging.getLogger(__name__)

# Change it with any change of NOTICE's meaning: every citizen is then asked again.
NOTICE_VERSION = "2026-12-01"


def notice(*, controller: str) -> dict:
    """The notice as the citizen page shows it: who processes what, why, for how long, and the rights."""
    return {"version": NOTICE_VERSION, "controller": controller, "title": "个人信息保护告知书", "sections": [
        {"title": "谁处理您的个人信息",
         "text": f"{controller}（个人信息处理者）。如有疑问，可在本页“异议与投诉”中提出，或到信用办窗口咨询。"},
        {"title": "处理哪些信息、用于什么",
         "text": "手机号或微信标识：用于登录、发送验证码和办理进度短信。姓名和身份证号：仅在您实名认证时用于核验身份，"
                 "身份证号经加密运算后保存，不保存明文。信用等级与失信名单状态：来自社会信用信息平台，用于判断您可享受的"
                 "信易+激励。使用记录（合作单位、优惠、金额、时间）：用于次数限制、对账和处理您的异议。"},
        {"title": "商户能看到什么",
         "text": "商户扫码时只看到信用等级和该优惠能否使用，看不到您的姓名、手机号和证件号。信用码每分钟更换，不含个人信息。"},
        {"title": "保存多久",
         "text": "账号信息保存至您注销账号为止。使用记录按对账和信用管理的规定期限保存；注销后不再与您的手机号、微信或身份关联。"},
        {"title": "您的权利",
         "text": "您可以在“我的信用”和“使用记录”中查阅信息，通过“异议与投诉”要求更正，也可以随时注销账号，"
                 "注销即撤回本同意。"},
        {"title": "不同意会怎样",
         "text": "不同意本告知书将无法使用信用码；本次登录留下的手机号或微信标识会被删除。"},
    ]}


def consent_json(account: CitizenAccount) -> dict | None:
    if account.privacy_version is None:
        return None
    return {"version": account.privacy_version, "agreed_at": iso(account.privacy_agreed_at)}


def record_consent(*, account_id: int, version: str) -> dict:
    """The citizen agreed to the notice of `version`, which must be the current one; kept with the time."""
    if version != NOTICE_VERSION:
        raise DomainError(ErrorCode.CONSENT_OUTDATED)
    account = db.session.get(CitizenAccount, account_id)
    if account is None or account.deleted_at is not None:
        raise DomainError(ErrorCode.UNAUTHORIZED)
    if account.privacy_version != version:
        account.privacy_version = version
        account.privacy_agreed_at = utcnow()
        audit.record(actor=f"citizen:{account_id}", action="privacy_consent", target=f"citizen:{account_id}",
                     detail={"version": version})
        db.session.commit()
    return consent_json(account)


def delete_account(*, account_id: int, session_id: str | None) -> None:
    """Delete the citizen's account at their request, now: identity unbound, phone and openids erased,
    company authorisations ended, unused sign-in codes of the phone dropped, every session revoked.
    The row stays, emptied, as the alias the redemptions' and objections' records point to."""
    account = db.session.scalar(select(CitizenAccount).where(CitizenAccount.id == account_id).with_for_update())
    if account is None or account.deleted_at is not None:
        raise DomainError(ErrorCode.UNAUTHORIZED)
    now = utcnow()
    phone = account.phone
    db.session.execute(update(CompanyRepresentative).where(CompanyRepresentative.account_id == account_id,
                                                           CompanyRepresentative.revoked_at.is_(None))
                       .values(revoked_at=now))
    if phone is not None:
        db.session.execute(delete(SmsCode).where(SmsCode.phone == phone))
    account.phone = None
    account.wechat_openid = None
    account.wechat_oa_openid = None
    account.subject_id = None
    account.bound_at = None
    account.identity_name_hash = None
    account.disabled = True
    account.deleted_at = now
    db.session.flush()
    sessions.revoke_principal_sessions(kind="citizen", principal_id=account_id, reason="account_deleted")
    if session_id:  # the calling session, also when it has no refresh token (a sign-in link's)
        sessions.revoke_sessions([session_id], reason="account_deleted")
    # What was erased is not written down: the entry says only that the alias's owner asked.
    audit.record(actor=f"citizen:{account_id}", action="account_deleted", target=f"citizen:{account_id}")
    db.session.commit()
    log.info("citizen account %s deleted at its owner's request", account_id)
