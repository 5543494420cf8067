"""Citizens: sign-in by SMS code or WeChat, and binding a real identity to the account."""
from __future__ import annotations

import logging
import re
import secrets
import unicodedata
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..credit.identifiers import is_valid_id_number
from ..credit.models import CreditSubject
from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..timeutil import iso
from ..extensions import db
from . import privacy, sessions, sms, wechat
from .models import CitizenAccount, CompanyRepresentative, SmsCode
from ..credit.identifiers import identity_hash
from .service import Principal, name_hash, secret_digest

log = logging.getLogger(__name__)

PHONE = re.compile(r"^1[3-9][0-9]{9}$")  # [0-9], not \d: \d also matches full-width and other digits
# What people type between the digits: spaces of every kind, hyphens and dashes, brackets and dots.
PHONE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015().]")
SMS_CODE = re.compile(r"^\d{6}$")
SMS_CODE_MINUTES = 5
SMS_MAX_ATTEMPTS = 5
# Chinese names, names of minorities with the middle dot (·), and Latin names of foreign residents.
NAME = re.compile(r"^[\u3400-\u9fff\u00b7A-Za-z][\u3400-\u9fff\u00b7A-Za-z ]{0,29}$")


def normalise_phone(phone: str) -> str:
    """The one form of a mainland mobile number (11 ASCII digits) under which it is stored, looked up
    and rate-limited: `137-1234-5678`, `+86 137 1234 5678`, `0086…` and full-width digits are one phone."""
    phone = PHONE_SEPARATORS.sub("", unicodedata.normalize("NFKC", phone or ""))
    for country in ("+86", "0086", "86"):
        if len(phone) == len(country) + 11 and phone.startswith(country):
            phone = phone[len(country):]
    if not PHONE.match(phone):
        raise DomainError(ErrorCode.VALIDATION_ERROR, "请输入正确的手机号", field="phone")
    return phone


def mask_phone(phone: str | None) -> str | None:
    return f"{phone[:3]}****{phone[-4:]}" if phone else None


def _code_digest(phone: str, code: str) -> str:
    return secret_digest(key=current_app.config["SECRET_KEY"], purpose=f"sms:{phone}", value=code)


# -- SMS ----------------------------------------------------------------------------------------

def send_sms_code(*, phone: str) -> dict:
    """Send a fresh six-digit code; older unused codes of this phone stop working.

    The answer is the same whether or not the phone has an account, so it reveals nothing.
    """
    phone = normalise_phone(phone)
    now = utcnow()
    code = f"{secrets.randbelow(1_000_000):06d}"
    db.session.execute(update(SmsCode).where(SmsCode.phone == phone, SmsCode.used_at.is_(None)).values(used_at=now))
    db.session.add(SmsCode(phone=phone, code_hash=_code_digest(phone, code), created_at=now,
                           expires_at=now + timedelta(minutes=SMS_CODE_MINUTES)))
    sms.sender().send(phone, f"【信用码】您的登录验证码是 {code}，{SMS_CODE_MINUTES} 分钟内有效。请勿告诉他人。",
                      template=sms.SIGN_IN_CODE, params=(code, str(SMS_CODE_MINUTES)))
    db.session.commit()
    return {"sent": True, "expires_in": SMS_CODE_MINUTES * 60}


def verify_sms_code(*, phone: str, code: str) -> None:
    """Spend the phone's current code if `code` matches; every refusal is the same `sms_code_invalid`."""
    now = utcnow()
    row = db.session.scalar(select(SmsCode).where(SmsCode.phone == phone, SmsCode.used_at.is_(None),
                                                  SmsCode.expires_at > now)
                            .order_by(SmsCode.created_at.desc(), SmsCode.id.desc()).limit(1))
    if row is None or not SMS_CODE.match(code or ""):
        raise DomainError(ErrorCode.SMS_CODE_INVALID)
    # Count the attempt before comparing, atomically, so parallel guesses cannot exceed the budget.
    counted = db.session.execute(update(SmsCode).where(SmsCode.id == row.id, SmsCode.attempts < SMS_MAX_ATTEMPTS,
                                                       SmsCode.used_at.is_(None))
                                 .values(attempts=SmsCode.attempts + 1)).rowcount
    db.session.commit()
    if counted != 1 or not secrets.compare_digest(row.code_hash, _code_digest(phone, code)):
        raise DomainError(ErrorCode.SMS_CODE_INVALID)
    spent = db.session.execute(update(SmsCode).where(SmsCode.id == row.id, SmsCode.used_at.is_(None))
                               .values(used_at=now)).rowcount
    if spent != 1:
        db.session.rollback()
        raise DomainError(ErrorCode.SMS_CODE_INVALID)


def sms_login(*, phone: str, code: str) -> sessions.TokenPair:
    phone = normalise_phone(phone)
    verify_sms_code(phone=phone, code=code)
    account = _find_or_create(CitizenAccount.phone, phone, phone=phone)
    return _start(account)


# -- WeChat -------------------------------------------------------------------------------------

def wechat_login(*, code: str) -> sessions.TokenPair:
    config = current_app.config
    identity = wechat.code_to_session(base_url=config["WECHAT_API_BASE"], appid=config["WECHAT_APPID"],
                                      secret=config["WECHAT_SECRET"], code=code,
                                      timeout=config["WECHAT_TIMEOUT"])
    account = _find_or_create(CitizenAccount.wechat_openid, identity.openid, wechat_openid=identity.openid)
    return _start(account)


def sign_in_methods() -> dict:
    """Which sign-ins this deployment offers, so the page shows no button that leads nowhere."""
    config = current_app.config
    return {"sms": True, "wechat_web": bool(config["WECHAT_OA_APPID"] and config["WECHAT_OA_SECRET"])}


def wechat_web_start(*, redirect_uri: str) -> tuple[str, str]:
    """Where to send the browser for the 公众号's silent sign-in, and the `state` it must bring back.

    The state is random and kept by the browser in a cookie of ours (the view's): a code that
    arrives with another state was not asked for by this browser (login CSRF: someone else's code
    would sign the victim in to the attacker's account)."""
    state = secrets.token_urlsafe(24)
    url = wechat.authorize_url(open_base=current_app.config["WECHAT_OPEN_BASE"],
                               appid=current_app.config["WECHAT_OA_APPID"], redirect_uri=redirect_uri, state=state)
    return url, state


def wechat_web_login(*, code: str, state: str, expected_state: str | None) -> sessions.TokenPair:
    """The code WeChat handed the 公众号 page → the citizen's account under its 公众号 openid."""
    if not expected_state or not secrets.compare_digest(state.encode(), expected_state.encode()):
        raise DomainError(ErrorCode.WECHAT_STATE_INVALID)
    config = current_app.config
    identity = wechat.oauth_code_to_openid(base_url=config["WECHAT_API_BASE"], appid=config["WECHAT_OA_APPID"],
                                           secret=config["WECHAT_OA_SECRET"], code=code,
                                           timeout=config["WECHAT_TIMEOUT"])
    account = _find_or_create(CitizenAccount.wechat_oa_openid, identity.openid, wechat_oa_openid=identity.openid)
    return _start(account)


def _find_or_create(column, value: str, **fields) -> CitizenAccount:
    account = db.session.scalar(select(CitizenAccount).where(column == value))
    if account is not None:
        return account
    try:
        with db.session.begin_nested():
            account = CitizenAccount(**fields)
            db.session.add(account)
    except IntegrityError:  # a parallel first sign-in created it
        account = db.session.scalar(select(CitizenAccount).where(column == value))
    return account


def _start(account: CitizenAccount) -> sessions.TokenPair:
    if account.disabled:
        db.session.rollback()
        raise DomainError(ErrorCode.UNAUTHORIZED, "账号已停用，请联系信用办")
    pair = sessions.start_session(Principal(kind="citizen", id=account.id, role="citizen"))
    db.session.commit()
    return pair


# -- identity binding ---------------------------------------------------------------------------

def normalise_name(name: str) -> str:
    name = unicodedata.normalize("NFKC", name or "").strip()
    name = re.sub(r"[\u2022\u30fb\u00b7\uff65.]", "\u00b7", name)  # the many dots people type for ·
    name = re.sub(r"\s+", " ", name)
    if not NAME.match(name):
        raise DomainError(ErrorCode.NAME_INVALID)
    return name


def bind_identity(*, account_id: int, name: str, id_number: str) -> dict:
    """Bind the account to the person with this ID number, if the credit platform knows them.

    The match is on HMAC(pepper, ID number): the credit platform's export carries no names, so the
    name cannot be matched there. It is still required: it goes through `name_check` (the two-factor
    real-name check of the public security service in a deployment) and its keyed hash is kept so
    the office can settle an objection. Every refusal that could tell whether an ID exists
    (unknown, a company's code, bound to someone else, name check failed) is one `identity_mismatch`.
    The plaintext is never stored or logged.
    """
    name = normalise_name(name)
    id_number = (id_number or "").strip().upper()
    if not is_valid_id_number(id_number):
        raise DomainError(ErrorCode.ID_NUMBER_INVALID)
    pepper = current_app.config["IDENTITY_PEPPER"]
    digest = identity_hash(pepper=pepper, identifier=id_number)
    account = db.session.get(CitizenAccount, account_id)
    subject = db.session.scalar(select(CreditSubject).where(CreditSubject.identity_hash == digest))
    if account.subject_id is not None:
        if subject is not None and account.subject_id == subject.id:
            return identity_json(account)  # binding again to the same identity is harmless
        raise DomainError(ErrorCode.IDENTITY_ALREADY_BOUND)
    checker = current_app.extensions.get("identity_name_check")
    if subject is None or subject.kind != "person" or (checker is not None and not checker(name, id_number)):
        log.info("identity binding refused for account %s", account_id)
        raise DomainError(ErrorCode.IDENTITY_MISMATCH)
    try:
        bound = db.session.execute(
            update(CitizenAccount).where(CitizenAccount.id == account_id, CitizenAccount.subject_id.is_(None))
            .values(subject_id=subject.id, bound_at=utcnow(),
                    identity_name_hash=name_hash(pepper=pepper, id_number=id_number, name=name))
        ).rowcount
        db.session.commit()
    except IntegrityError:  # the unique constraint: this identity is already another account's
        db.session.rollback()
        log.info("identity binding refused for account %s (identity bound elsewhere)", account_id)
        raise DomainError(ErrorCode.IDENTITY_MISMATCH) from None
    if bound != 1:
        raise DomainError(ErrorCode.IDENTITY_ALREADY_BOUND)
    log.info("account %s bound to credit subject %s", account_id, subject.id)
    db.session.refresh(account)
    return identity_json(account)


def identity_json(account: CitizenAccount) -> dict:
    return {"identity_bound": account.subject_id is not None, "bound_at": iso(account.bound_at) if account.bound_at else None}


def me(*, account_id: int) -> dict:
    """What the citizen's own page needs about the account: never the ID number (we do not have it)."""
    account = db.session.get(CitizenAccount, account_id)
    companies = db.session.scalars(select(CompanyRepresentative).where(
        CompanyRepresentative.account_id == account_id, CompanyRepresentative.revoked_at.is_(None)))
    return {
        "id": account.id, "phone": mask_phone(account.phone),
        "wechat": account.wechat_openid is not None or account.wechat_oa_openid is not None,
        **identity_json(account),
        "consent": privacy.consent_json(account), "privacy_version": privacy.NOTICE_VERSION,
        "companies": [{"representative_id": rep.id, "authorised_at": iso(rep.authorised_at)} for rep in companies],
    }
