"""The key ring: create, rotate, revoke, and load keys for signing and verifying.

Private keys are stored as Fernet tokens under a key derived from PASS_KEY_SECRET (HKDF-SHA256),
so a copy of the database alone signs nothing. Loaded keys are cached per process for a couple of
seconds; `KEYRING_CACHE_SECONDS` bounds how long a revocation takes to reach every worker.
"""
from __future__ import annotations

import base64
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select

from ..dbtypes import utcnow
from ..errors import DomainError
from ..extensions import db
from .codec import VerifierKey
from .models import Issuer, PassKey, SealKey

KEYRING_CACHE_SECONDS = 2.0


def _fernet(secret: str) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"xinyongma pass key storage").derive(
        secret.encode()
    )
    return Fernet(base64.urlsafe_b64encode(derived))


def raw_public_bytes(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def ensure_local_issuer(*, code: int, name: str) -> Issuer:
    issuer = db.session.get(Issuer, code)
    if issuer is None:
        issuer = Issuer(code=code, name=name, local=True, trusted=True)
        db.session.add(issuer)
    return issuer


def create_key(*, issuer_code: int, secret: str, now: datetime | None = None) -> PassKey:
    """Add a new active signing key to the local issuer; the caller retires the old one (rotate)."""
    now = now or utcnow()
    private_key = Ed25519PrivateKey.generate()
    next_kid = (db.session.scalar(select(func.max(PassKey.kid)).where(PassKey.issuer_code == issuer_code)) or 0) + 1
    key = PassKey(
        issuer_code=issuer_code, kid=next_kid, public_key=raw_public_bytes(private_key),
        private_key_encrypted=_fernet(secret).encrypt(private_key.private_bytes_raw()),
        status="active", not_before=now,
    )
    db.session.add(key)
    return key


def rotate(*, issuer_code: int, secret: str) -> PassKey:
    """New key active; old active keys retired now and still verifying until their passes expire."""
    now = utcnow()
    for old in db.session.scalars(select(PassKey).where(PassKey.issuer_code == issuer_code, PassKey.status == "active")):
        old.status, old.not_after = "retired", now
    return create_key(issuer_code=issuer_code, secret=secret, now=now)


def revoke(*, issuer_code: int, kid: int) -> PassKey:
    key = db.session.scalar(select(PassKey).where(PassKey.issuer_code == issuer_code, PassKey.kid == kid))
    if key is None:
        raise DomainError("not_found", "没有这个密钥")
    key.status, key.revoked_at = "revoked", utcnow()
    key.not_after = key.not_after or key.revoked_at
    return key


def ensure_seal_key(*, secret: str) -> SealKey:
    seal = db.session.scalar(select(SealKey).order_by(SealKey.id.desc()))
    if seal is None:
        seal = SealKey(key_encrypted=_fernet(secret).encrypt(os.urandom(32)))
        db.session.add(seal)
    return seal


@dataclass(frozen=True)
class SigningMaterial:
    issuer: int
    kid: int
    private_key: Ed25519PrivateKey
    seal_key: bytes


@dataclass(frozen=True)
class VerifyingMaterial:
    trusted_issuers: frozenset[int]
    keys: dict[tuple[int, int], VerifierKey]
    seal_key: bytes | None


class _Cache:
    def __init__(self):
        self.lock = threading.Lock()
        self.loaded_at = 0.0
        self.owner = None
        self.signing: SigningMaterial | None = None
        self.verifying: VerifyingMaterial | None = None


_cache = _Cache()


def invalidate_cache() -> None:
    _cache.loaded_at = 0.0


def _load(*, issuer_code: int, secret: str) -> None:
    fernet = _fernet(secret)
    seal_row = db.session.scalar(select(SealKey).order_by(SealKey.id.desc()))
    seal_key = fernet.decrypt(seal_row.key_encrypted) if seal_row else None
    keys: dict[tuple[int, int], VerifierKey] = {}
    signing = None
    trusted = frozenset(db.session.scalars(select(Issuer.code).where(Issuer.trusted.is_(True))))
    for key in db.session.scalars(select(PassKey).order_by(PassKey.kid)):
        keys[(key.issuer_code, key.kid)] = VerifierKey(
            public_key=key.public_key, status=key.status, not_before=int(key.not_before.timestamp()),
            not_after=int(key.not_after.timestamp()) if key.not_after else None,
        )
        if key.issuer_code == issuer_code and key.status == "active" and key.private_key_encrypted and seal_key:
            signing = SigningMaterial(issuer_code, key.kid,
                                      Ed25519PrivateKey.from_private_bytes(fernet.decrypt(key.private_key_encrypted)),
                                      seal_key)
    _cache.signing = signing
    _cache.verifying = VerifyingMaterial(trusted, keys, seal_key)


def material(*, issuer_code: int, secret: str, owner: object) -> tuple[SigningMaterial | None, VerifyingMaterial]:
    """The current signing and verifying keys, from a short per-process cache (per app instance)."""
    with _cache.lock:
        if _cache.owner is not owner or time.monotonic() - _cache.loaded_at > KEYRING_CACHE_SECONDS:
            _load(issuer_code=issuer_code, secret=secret)
            _cache.owner, _cache.loaded_at = owner, time.monotonic()
        return _cache.signing, _cache.verifying
