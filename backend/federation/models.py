"""The city's federation signing key, and the partner cities it trusts (each with a pinned key)."""
from __future__ import annotations

from sqlalchemy import JSON, Boolean, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..dbtypes import BigId, UTCDateTime, utcnow
from ..extensions import db


class FederationKey(db.Model):
    """The Ed25519 key that signs this city's trust list (private part encrypted as pass keys are)."""

    __tablename__ = "federation_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    private_key_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)


class PartnerCity(db.Model):
    """A city whose passes we honour, as far as its last good trust list says."""

    __tablename__ = "partner_cities"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(String(512), unique=True)  # its trust list
    pinned_key: Mapped[bytes] = mapped_column(LargeBinary(32))  # its federation key, exchanged out of band
    issuer_code: Mapped[int | None] = mapped_column(Integer)  # learned from its first good list
    name: Mapped[str | None] = mapped_column(String(128))
    last_issued_at: Mapped[object | None] = mapped_column(UTCDateTime)  # of the last list applied
    trusted_until: Mapped[object | None] = mapped_column(UTCDateTime)  # that list's issue time + its max age
    last_synced_at: Mapped[object | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    endpoint: Mapped[str | None] = mapped_column(String(512))  # its federation endpoint, from its list
    tiers: Mapped[list | None] = mapped_column(JSON)  # its tier levels and what they mean, from its list
    added_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
