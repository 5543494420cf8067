"""The key ring: create, rotate, revoke, and load keys for signing and verifying.

Private keys are stored as Fernet tokens under a key derived from PASS_KEY_SECRET (HKDF-SHA256),
so a copy of the database alone signs nothing. Each app caches the loaded ring; every change
(create, rotate, revoke, trust) is announced as a new random "generation" (written to Redis and
published through the change feed, `backend/changefeed.py`), and every use compares that one
value, so a revocation reaches every gunicorn worker on its next request. When Redis is
unreachable the cache lives `KEYRING_CACHE_SECONDS` (2 s) instead.
"""
from __future__ import annotations

import base64
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import datetime

import redis
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import func, select

from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..extensions import db
from .codec import VerifierKey
from .models import Issuer, PassKey, SealKey

log = logging.getLogger(__name__)

# Without Redis, how long a worker trusts the key ring it loaded: bounds how late a revocation bites.
KEYRING_CACHE_SECONDS = 2.0
# With Redis confirming the generation, reload anyway this often (covers an announcement lost in transit).
KEYRING_CONFIRMED_SECONDS = 60.0
# After Redis fails, ask it again only after this long, so requests do not each wait for its timeout.
REDIS_RETRY_SECONDS = 1.0
GENERATION_KEY = "pass:keyring-generation"
_clock = time.monotonic  # the cache's clock (tests move it)


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
        raise DomainError(ErrorCode.NOT_FOUND, "没有这个密钥")
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
    """One app's loaded key ring, and what it knows of the ring's generation in Redis."""

    def __init__(self):
        self.lock = threading.Lock()
        self.loaded_at = 0.0
        self.generation: str | None = None
        self.redis_failed_at = -REDIS_RETRY_SECONDS
        self.signing: SigningMaterial | None = None
        self.verifying: VerifyingMaterial | None = None


# One cache per app instance (a test may build several apps in one process, like several workers).
_caches: "weakref.WeakKeyDictionary[object, _Cache]" = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache_of(owner: object) -> _Cache:
    with _caches_lock:
        cache = _caches.get(owner)
        if cache is None:
            cache = _caches[owner] = _Cache()
        return cache


def invalidate_cache() -> None:
    """Make every app in this process reload its key ring on its next use."""
    with _caches_lock:
        for cache in _caches.values():
            cache.loaded_at = 0.0


def _generation(cache: _Cache, redis_client, generation_key: str | None) -> str | None:
    """The ring's generation in Redis ("" if never announced), or None when Redis cannot be asked."""
    if redis_client is None or generation_key is None:
        return None
    if _clock() - cache.redis_failed_at < REDIS_RETRY_SECONDS:
        return None  # Redis just failed: do not make every request wait for its timeout
    try:
        return redis_client.get(generation_key) or ""
    except redis.RedisError:
        cache.redis_failed_at = _clock()
        return None


def _load(cache: _Cache, *, issuer_code: int, secret: str) -> None:
    fernet = _fernet(secret)
    seal_row = db.session.scalar(select(SealKey).order_by(SealKey.id.desc()))
    seal_key = _decrypt(fernet, seal_row.key_encrypted, "seal key") if seal_row else None
    keys: dict[tuple[int, int], VerifierKey] = {}
    signing = None
    trusted = frozenset(db.session.scalars(select(Issuer.code).where(Issuer.trusted.is_(True))))
    for key in db.session.scalars(select(PassKey).order_by(PassKey.kid)):
        keys[(key.issuer_code, key.kid)] = VerifierKey(
            public_key=key.public_key, status=key.status, not_before=int(key.not_before.timestamp()),
            not_after=int(key.not_after.timestamp()) if key.not_after else None,
        )
        if key.issuer_code == issuer_code and key.status == "active" and key.private_key_encrypted and seal_key:
            raw = _decrypt(fernet, key.private_key_encrypted, f"signing key {key.kid}")
            if raw is not None:
                signing = SigningMaterial(issuer_code, key.kid, Ed25519PrivateKey.from_private_bytes(raw), seal_key)
    cache.signing = signing
    cache.verifying = VerifyingMaterial(trusted, keys, seal_key)


def _decrypt(fernet: Fernet, token: bytes, what: str) -> bytes | None:
    try:
        return fernet.decrypt(token)
    except InvalidToken:
        # A wrong PASS_KEY_SECRET: issue nothing (503) rather than crash; verifying needs only public keys.
        log.error("cannot decrypt the %s: PASS_KEY_SECRET is not the one it was stored under", what)
        return None


def material(*, issuer_code: int, secret: str, owner: object, redis_client=None, generation_key: str | None = None,
             generation: str | None = None) -> tuple[SigningMaterial | None, VerifyingMaterial]:
    """The current signing and verifying keys, cached per app and checked against Redis per call.

    With Redis the cache is used only while the ring's generation in Redis is the one it was
    loaded under, so a revocation reaches every worker on its next request; without Redis (or
    without a context naming it) the cache lives KEYRING_CACHE_SECONDS. `generation`: the value the
    worker's change feed already knows, which saves asking Redis.
    """
    cache = _cache_of(owner)
    if generation is None:
        generation = _generation(cache, redis_client, generation_key)  # read before loading, never after
    with cache.lock:
        age = _clock() - cache.loaded_at
        if generation is not None:
            fresh = generation == cache.generation and age < KEYRING_CONFIRMED_SECONDS
        else:
            fresh = age < KEYRING_CACHE_SECONDS
        if not fresh:
            _load(cache, issuer_code=issuer_code, secret=secret)
            cache.loaded_at, cache.generation = _clock(), generation
        return cache.signing, cache.verifying
