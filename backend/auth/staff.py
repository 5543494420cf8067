"""Password sign-in of merchant staff and credit-office users, and the merchant's scanning devices."""
from __future__ import annotations

import functools
import logging
import secrets
from datetime import timedelta

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select, update

from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..extensions import db
from ..merchants.models import Partner
from ..audit import record
from . import sessions
from .models import Device, DeviceEnrolment, MerchantStaff, OfficeUser
from .service import Principal, secret_digest

log = logging.getLogger(__name__)


def _hasher() -> PasswordHasher:
    """The app's argon2id hasher, built once from the profile named by ARGON2_PROFILE: the library's
    default (RFC 9106's second recommended option: t=3, m=64 MiB, p=4) except in the tests."""
    hasher = current_app.extensions.get("password_hasher")
    if hasher is None:
        parameters = getattr(profiles, current_app.config["ARGON2_PROFILE"])
        hasher = current_app.extensions["password_hasher"] = PasswordHasher.from_parameters(parameters)
    return hasher


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """Verified against when the username is unknown, so that the answer takes as long either way."""
    return hasher.hash(secrets.token_urlsafe(16))

ENROLMENT_MINUTES = 10
# Crockford-style alphabet without look-alikes (0/O, 1/I/L): typed by hand off a screen if the camera fails.
ENROLMENT_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
ENROLMENT_LENGTH = 12  # 30^12 ≈ 2^59: guessing within 10 minutes at our rate limit is hopeless


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _check_password(user, password: str) -> bool:
    """Constant work whether or not the user exists; upgrades old hashes in place."""
    hasher = _hasher()
    stored = user.password_hash if user is not None else _dummy_hash(hasher)
    try:
        hasher.verify(stored, password or "")
    except (VerificationError, InvalidHashError):
        return False
    if user is None:
        return False
    if hasher.check_needs_rehash(stored):
        user.password_hash = hasher.hash(password)
    return True


def staff_login(*, username: str, password: str) -> sessions.TokenPair:
    staff = db.session.scalar(select(MerchantStaff).where(MerchantStaff.username == (username or "").strip()))
    if not _check_password(staff, password) or not staff.active:
        log.info("merchant staff sign-in refused")
        raise DomainError(ErrorCode.INVALID_CREDENTIALS)
    pair = sessions.start_session(Principal(kind="staff", id=staff.id, role=staff.role, partner_id=staff.partner_id))
    db.session.commit()
    return pair


def office_login(*, username: str, password: str) -> sessions.TokenPair:
    user = db.session.scalar(select(OfficeUser).where(OfficeUser.username == (username or "").strip()))
    if not _check_password(user, password) or not user.active:
        log.info("office sign-in refused")
        raise DomainError(ErrorCode.INVALID_CREDENTIALS)
    pair = sessions.start_session(Principal(kind="office", id=user.id, role=user.role))
    record(actor=f"office:{user.id}", action="office.sign_in", target=f"office_user:{user.id}")
    db.session.commit()
    return pair


# -- accounts -----------------------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 10


def _new_password_hash(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise DomainError(ErrorCode.PASSWORD_TOO_WEAK)
    return hash_password(password)


def _username_free(username: str) -> str:
    """Usernames are unique across merchant staff and office users, so a sign-in never means two people."""
    username = (username or "").strip()
    taken = db.session.scalar(select(MerchantStaff.id).where(MerchantStaff.username == username)) or \
        db.session.scalar(select(OfficeUser.id).where(OfficeUser.username == username))
    if taken:
        raise DomainError(ErrorCode.USERNAME_TAKEN)
    return username


def create_staff(*, actor: str, partner_id: int, username: str, role: str, password: str) -> MerchantStaff:
    """A merchant admin (made by the office) or cashier (by the office or the merchant's admin); audited."""
    if db.session.get(Partner, partner_id) is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    staff = MerchantStaff(partner_id=partner_id, username=_username_free(username), role=role,
                          password_hash=_new_password_hash(password))
    db.session.add(staff)
    db.session.flush()
    record(actor=actor, action="staff.created", target=f"staff:{staff.id}",
           detail={"partner_id": partner_id, "role": role, "username": staff.username})
    db.session.commit()
    return staff


def list_staff(*, partner_id: int) -> list[MerchantStaff]:
    return list(db.session.scalars(select(MerchantStaff).where(MerchantStaff.partner_id == partner_id)
                                   .order_by(MerchantStaff.id)))


def _own_cashier(*, partner_id: int, staff_id: int) -> MerchantStaff:
    """A cashier of this merchant; anyone else (another merchant's staff, an admin) is not found."""
    member = db.session.get(MerchantStaff, staff_id)
    if member is None or member.partner_id != partner_id or member.role != "cashier":
        raise DomainError(ErrorCode.NOT_FOUND)
    return member


def set_cashier_active(*, partner_id: int, staff_id: int, active: bool, actor: str) -> MerchantStaff:
    """Disable (every session of the cashier ends at once) or enable again a cashier of this merchant; audited."""
    member = _own_cashier(partner_id=partner_id, staff_id=staff_id)
    if member.active != active:
        member.active = active
        if not active:
            sessions.revoke_principal_sessions(kind="staff", principal_id=member.id, reason="staff_disabled")
        record(actor=actor, action="staff.enabled" if active else "staff.disabled", target=f"staff:{member.id}",
               detail={"partner_id": partner_id})
    db.session.commit()
    return member


def reset_cashier_password(*, partner_id: int, staff_id: int, password: str, actor: str) -> MerchantStaff:
    """A new password for a cashier of this merchant; their sessions end, so the old one is of no use. Audited."""
    member = _own_cashier(partner_id=partner_id, staff_id=staff_id)
    member.password_hash = _new_password_hash(password)
    sessions.revoke_principal_sessions(kind="staff", principal_id=member.id, reason="password_reset")
    record(actor=actor, action="staff.password_reset", target=f"staff:{member.id}", detail={"partner_id": partner_id})
    db.session.commit()
    return member


def create_office_user(*, actor: str, username: str, role: str, password: str) -> OfficeUser:
    user = OfficeUser(username=_username_free(username), role=role, password_hash=_new_password_hash(password))
    db.session.add(user)
    db.session.flush()
    record(actor=actor, action="office_user.created", target=f"office_user:{user.id}",
           detail={"role": role, "username": user.username})
    db.session.commit()
    return user


# -- devices ------------------------------------------------------------------------------------

def _enrolment_digest(code: str) -> str:
    return secret_digest(key=current_app.config["SECRET_KEY"], purpose="enrolment", value=code)


def normalise_enrolment_code(code: str) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def create_enrolment(*, partner_id: int, staff_id: int | None, actor: str) -> dict:
    """A one-time code (shown as text and QR) with which one phone becomes a scanning device."""
    code = "".join(secrets.choice(ENROLMENT_ALPHABET) for _ in range(ENROLMENT_LENGTH))
    now = utcnow()
    enrolment = DeviceEnrolment(partner_id=partner_id, code_hash=_enrolment_digest(code), created_by=staff_id,
                                created_at=now, expires_at=now + timedelta(minutes=ENROLMENT_MINUTES))
    db.session.add(enrolment)
    db.session.flush()
    record(actor=actor, action="device.enrolment_created", target=f"partner:{partner_id}",
           detail={"enrolment_id": enrolment.id})
    db.session.commit()
    return {"code": "-".join(code[i:i + 4] for i in range(0, ENROLMENT_LENGTH, 4)), "expires_at": enrolment.expires_at,
            "enrolment_id": enrolment.id}


def enrol_device(*, code: str, name: str) -> tuple[Device, str]:
    """Spend an enrolment code: a new device of that merchant and its token."""
    digest = _enrolment_digest(normalise_enrolment_code(code))
    enrolment = db.session.scalar(select(DeviceEnrolment).where(DeviceEnrolment.code_hash == digest))
    if enrolment is None or enrolment.used_at is not None:
        raise DomainError(ErrorCode.ENROLMENT_CODE_INVALID)
    if enrolment.expires_at <= utcnow():
        raise DomainError(ErrorCode.ENROLMENT_CODE_EXPIRED)
    device = Device(partner_id=enrolment.partner_id, name=(name or "").strip()[:64] or "收银台",
                    enrolled_by=enrolment.created_by)
    db.session.add(device)
    db.session.flush()
    # The conditional update makes the code one-time even when two phones race with it.
    spent = db.session.execute(update(DeviceEnrolment).where(DeviceEnrolment.id == enrolment.id,
                                                             DeviceEnrolment.used_at.is_(None))
                               .values(used_at=utcnow(), device_id=device.id)).rowcount
    if spent != 1:
        db.session.rollback()
        raise DomainError(ErrorCode.ENROLMENT_CODE_INVALID)
    record(actor=f"device:{device.id}", action="device.enrolled", target=f"partner:{device.partner_id}",
           detail={"enrolment_id": enrolment.id, "name": device.name})
    db.session.commit()
    return device, sessions.device_token(device)


def list_devices(*, partner_id: int) -> list[Device]:
    return list(db.session.scalars(select(Device).where(Device.partner_id == partner_id).order_by(Device.id)))


def rename_device(*, partner_id: int, device_id: int, name: str, actor: str) -> Device:
    """Give a device of this merchant a new name (shown in its list and on the phone); audited."""
    device = db.session.get(Device, device_id)
    if device is None or device.partner_id != partner_id:
        raise DomainError(ErrorCode.NOT_FOUND)
    name = (name or "").strip()[:64]
    if not name:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "请填写设备名称", field="name")
    if name != device.name:
        record(actor=actor, action="device.renamed", target=f"device:{device.id}",
               detail={"partner_id": partner_id, "before": device.name, "after": name})
        device.name = name
    db.session.commit()
    return device


def revoke_device(*, partner_id: int, device_id: int, actor: str) -> Device:
    """Revoke a device of this merchant: its token stops working on its next request."""
    device = db.session.get(Device, device_id)
    if device is None or device.partner_id != partner_id:
        raise DomainError(ErrorCode.NOT_FOUND)  # another merchant's device: not even its existence is told
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        sessions.revoke_sessions([sessions.device_session_id(device.id)], reason="device_revoked",
                                 lifetime=sessions.device_lifetime())
        record(actor=actor, action="device.revoked", target=f"device:{device.id}", detail={"partner_id": partner_id})
    db.session.commit()
    return device
