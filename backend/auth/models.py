"""Accounts of every kind of user, and the state their sessions need."""
from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..dbtypes import BigId, UTCDateTime, one_of, utcnow
from ..extensions import db
from .roles import MERCHANT_STAFF, OFFICE


class CitizenAccount(db.Model):
    """A citizen's sign-in (WeChat openid and/or phone) and, once bound, their credit subject."""

    __tablename__ = "citizen_accounts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    wechat_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    # One identity binds to one account: unique.
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("credit_subjects.id"), unique=True)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    bound_at: Mapped[object | None] = mapped_column(UTCDateTime)
    # HMAC(pepper, ID number + name given at binding): lets the office settle an objection without plaintext.
    identity_name_hash: Mapped[str | None] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # The privacy notice agreed to (backend/auth/privacy.py NOTICE_VERSION) and when: no pass before it.
    privacy_version: Mapped[str | None] = mapped_column(String(16))
    privacy_agreed_at: Mapped[object | None] = mapped_column(UTCDateTime)
    # The 公众号's openid (web sign-in): a person has another under the mini-program.
    wechat_oa_openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Deleted by its owner: identity, phone and openids erased; the row stays as the alias that
    # the records of redemptions and objections point to (docs/security.md, deleting an account).
    deleted_at: Mapped[object | None] = mapped_column(UTCDateTime)


class CompanyRepresentative(db.Model):
    """A citizen authorised by the credit office to show a company's pass."""

    __tablename__ = "company_representatives"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("citizen_accounts.id"))
    company_subject_id: Mapped[int] = mapped_column(ForeignKey("credit_subjects.id"))
    authorised_by: Mapped[int | None] = mapped_column(ForeignKey("office_users.id"))
    authorised_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[object | None] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("account_id", "company_subject_id"),)


class SmsCode(db.Model):
    __tablename__ = "sms_codes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    code_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[object] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[object | None] = mapped_column(UTCDateTime)


class MerchantStaff(db.Model):
    __tablename__ = "merchant_staff"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (CheckConstraint(one_of("role", MERCHANT_STAFF), name="role"),)


class Device(db.Model):
    """A phone enrolled to scan for one merchant; its token dies with `revoked_at`."""

    __tablename__ = "devices"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    name: Mapped[str] = mapped_column(String(64))
    enrolled_by: Mapped[int | None] = mapped_column(ForeignKey("merchant_staff.id"))
    enrolled_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[object | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[object | None] = mapped_column(UTCDateTime)  # written with its contact spells


class ContactSpell(db.Model):
    """A stretch of time in which the server kept hearing from one scanner (a device, or a merchant's
    staff member on any phone), with no silence longer than backend/auth/contacts.py's ALLOWANCE.
    A scan queued offline must fall outside every spell (docs/security.md, offline backdating)."""

    __tablename__ = "contact_spells"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("merchant_staff.id", ondelete="CASCADE"))
    started_at: Mapped[object] = mapped_column(UTCDateTime)
    ended_at: Mapped[object] = mapped_column(UTCDateTime)
    __table_args__ = (
        CheckConstraint("(device_id is null) != (staff_id is null)", name="one_scanner"),
        Index("ix_contact_spells_device", "device_id", "ended_at"),
        Index("ix_contact_spells_staff", "staff_id", "ended_at"),
    )


class DeviceEnrolment(db.Model):
    """A one-time enrolment code made by a merchant admin (stored hashed; expires)."""

    __tablename__ = "device_enrolments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("merchant_staff.id"))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[object] = mapped_column(UTCDateTime)
    used_at: Mapped[object | None] = mapped_column(UTCDateTime)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))


class OfficeUser(db.Model):
    __tablename__ = "office_users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    __table_args__ = (
        CheckConstraint(one_of("role", OFFICE), name="role"),
    )


class RefreshToken(db.Model):
    """A rotating refresh token, stored hashed. Reuse of a used one revokes its whole family."""

    __tablename__ = "refresh_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    principal_kind: Mapped[str] = mapped_column(String(16))  # citizen / staff / office / device
    principal_id: Mapped[int] = mapped_column(BigId)
    role: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[object] = mapped_column(UTCDateTime)
    used_at: Mapped[object | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[object | None] = mapped_column(UTCDateTime)
    # "Sign this person out everywhere" looks sessions up by principal.
    __table_args__ = (Index("ix_refresh_tokens_principal", "principal_kind", "principal_id"),)


class RevokedSession(db.Model):
    """Access-token ids and session families revoked before expiry: the fallback when Redis is down."""

    __tablename__ = "revoked_sessions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    session_id: Mapped[str] = mapped_column(String(36), unique=True)
    revoked_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[object] = mapped_column(UTCDateTime)
