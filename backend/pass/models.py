"""Issuers (this city and trusted partner cities) and the Ed25519 key ring."""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..dbtypes import BigId, UTCDateTime, utcnow
from ..extensions import db


class Issuer(db.Model):
    """A pass issuer, named by its administrative division code; `local` is this deployment."""

    __tablename__ = "pass_issuers"
    code: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(128))
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    trusted: Mapped[bool] = mapped_column(Boolean, default=True)
    # A partner issuer's tier levels as ours: {"their level": our level, or None for not accepted}
    # (set by the office through backend/federation; a level not named is not accepted). None for ours.
    tier_map: Mapped[dict | None] = mapped_column(JSON)
    # The levels a partner issuer publishes, {"level": its code there, or None where we were not told}:
    # rule 9 of docs/pass-format.md reads its passes against these. From a partner city's trust list
    # (backend/federation), or `flask pass-keys trust --levels`; None: this city's own levels (and ours).
    tier_levels: Mapped[dict | None] = mapped_column(JSON)
    keys: Mapped[list["PassKey"]] = relationship(back_populates="issuer", order_by="PassKey.kid")


class PassKey(db.Model):
    """One signing key. Partner issuers' keys have no private part here."""

    __tablename__ = "pass_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    issuer_code: Mapped[int] = mapped_column(ForeignKey("pass_issuers.code"))
    kid: Mapped[int] = mapped_column(Integer)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    # Fernet token of the raw 32-byte private key, under a key derived from PASS_KEY_SECRET.
    private_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active / retired / revoked
    not_before: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    not_after: Mapped[object | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[object | None] = mapped_column(UTCDateTime)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    issuer: Mapped[Issuer] = relationship(back_populates="keys")
    __table_args__ = (UniqueConstraint("issuer_code", "kid"),)


class SealKey(db.Model):
    """The AES key that seals holder references in passes, stored encrypted like the signing keys."""

    __tablename__ = "pass_seal_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
