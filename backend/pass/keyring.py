"""The key ring: create, rotate, revoke, and load keys for signing and verifying.

Private keys are stored as Fernet tokens under a key derived from PASS_KEY_SECRET (HKDF-SHA256),
so a copy of the database alone signs nothing. Each worker caches the loaded ring in `KEY_RING`, a
watched cache: every committed change (create, rotate, revoke, trust, tier map) renews its generation, so a
revocation reaches every gunicorn worker on its next request; while a worker's change feed is not
synced (Redis unreachable), it loads the ring for every use.
"""
from __future__ import annotations

import base64
import logging
import os
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Integer, column, func, select, table

from .. import audit
from ..credit.models import Tier
from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..extensions import db
from ..watched_cache import WatchedCache
from .codec import PassSigner, VerifierKey
from .models import Issuer, PassKey, SealKey

log = logging.getLogger(__name__)

# Reload the ring at least this often: bounds how late a revocation bites in a worker that Redis's
# announcement could not reach while its change feed still looked synced.
KEYRING_CACHE_SECONDS = 60.0
GENERATION_KEY = "pass:keyring-generation"


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


# A partner city registered with `flask federation add` publishes what its levels mean, and the
# office maps them on its 互认城市 screen against that list. Its table is federation's, a layer
# above this one: the one column read is named here instead.
PARTNER_CITIES = table("partner_cities", column("issuer_code", Integer))


def parse_tier_map(text: str) -> dict[str, int]:
    """"1=1,2=2" (their level = our level) as the stored mapping {"1": 1, "2": 2}; "" maps nothing.

    Raises ValueError saying, in Chinese, which part does not fit."""
    mapping: dict[str, int] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        theirs, sep, ours = (piece.strip() for piece in part.partition("="))
        if not sep or not theirs.isdigit() or not ours.isdigit():
            raise ValueError(f"“{part}”应写作 对方等级=本市等级，例如 1=1")
        if not 1 <= int(theirs) <= 15:
            raise ValueError(f"对方等级 {theirs} 不在 1 至 15 之间")
        if str(int(theirs)) in mapping:
            raise ValueError(f"对方等级 {theirs} 写了两次")
        mapping[str(int(theirs))] = int(ours)
    return mapping


def parse_levels(text: str) -> dict[str, None] | None:
    """"1,2,3,4,5" (the levels an issuer publishes) as the stored {"1": None, ...}; "" is None: the
    issuer's passes are read against this city's levels. Raises ValueError saying which part does not fit."""
    levels: dict[str, None] = {}
    for part in filter(None, (piece.strip() for piece in text.split(","))):
        if not part.isdigit() or not 1 <= int(part) <= 15:
            raise ValueError(f"等级“{part}”应为 1 至 15 之间的整数")
        if str(int(part)) in levels:
            raise ValueError(f"等级 {part} 写了两次")
        levels[str(int(part))] = None
    return dict(sorted(levels.items(), key=lambda item: int(item[0]))) or None


def store_tier_map(*, issuer_code: int, mapping: dict[str, int | None], actor: str, action: str,
                   target: str) -> dict | None:
    """The one place a partner issuer's tier map is written: {their level: our level, or None for not
    accepted}, checked against the levels the issuer publishes (when it publishes its own) and ours,
    stored, and audited under `action` with the mapping before and after, which it returns. The
    caller commits; the ring's change (the key list carries the mapping) is announced by the commit.

    Raises DomainError NOT_FOUND for an issuer that is not a partner's, ValueError naming a level
    the issuer does not publish or one we do not have."""
    issuer = _partner_issuer(issuer_code)
    if issuer.tier_levels is not None:
        unpublished = sorted((level for level in mapping if level not in issuer.tier_levels), key=int)
        if unpublished:
            raise ValueError(f"对方城市没有等级 {unpublished[0]}")
    missing = sorted({level for level in mapping.values() if level is not None}
                     - set(db.session.scalars(select(Tier.level))))
    if missing:
        raise ValueError(f"本市没有信用等级 {missing[0]}")
    before, issuer.tier_map = issuer.tier_map, dict(mapping)
    audit.record(actor=actor, action=action, target=target,
                 detail={"issuer": issuer_code, "before": before, "after": issuer.tier_map})
    return before


def _partner_issuer(issuer_code: int) -> Issuer:
    """A partner city's issuer row (not ours), or DomainError NOT_FOUND."""
    issuer = db.session.get(Issuer, issuer_code)
    if issuer is None or issuer.local:
        raise DomainError(ErrorCode.NOT_FOUND, f"没有合作城市签发机构 {issuer_code}")
    return issuer


def _registered_partner_city(issuer_code: int) -> bool:
    return db.session.scalar(select(PARTNER_CITIES.c.issuer_code)
                             .where(PARTNER_CITIES.c.issuer_code == issuer_code).limit(1)) is not None


def set_tier_map(*, issuer_code: int, mapping: dict[str, int], actor: str) -> dict | None:
    """Map a hand-trusted partner issuer's levels to ours (a level not named is not accepted);
    audited as `pass_keys.tier_map` (store_tier_map). The caller commits.

    Raises DomainError NOT_FOUND for an issuer that is not a partner's, ValueError for a level we do
    not have, one the issuer does not publish, or an issuer registered as a partner city (the office
    maps those)."""
    if _registered_partner_city(issuer_code):
        raise ValueError(f"签发机构 {issuer_code} 是已登记的互认城市，请在信用办后台“互认城市”页设置等级对应")
    return store_tier_map(issuer_code=issuer_code, mapping=mapping, actor=actor, action="pass_keys.tier_map",
                          target=f"issuer:{issuer_code}")


def set_levels(*, issuer_code: int, levels: dict[str, None] | None, actor: str) -> None:
    """Say which levels a hand-trusted partner issuer publishes (None: read its passes against ours);
    audited as `pass_keys.levels`. The caller commits. Raises as set_tier_map, and ValueError when
    the issuer's tier map names a level the new list leaves out (change the map first)."""
    issuer = _partner_issuer(issuer_code)
    if _registered_partner_city(issuer_code):
        raise ValueError(f"签发机构 {issuer_code} 是已登记的互认城市，其等级以其信任列表为准")
    if levels is not None:
        left_out = sorted((level for level in issuer.tier_map or {} if level not in levels), key=int)
        if left_out:
            raise ValueError(f"等级对应中的对方等级 {left_out[0]} 不在等级列表中，请先修改等级对应")
    before, issuer.tier_levels = issuer.tier_levels, levels
    audit.record(actor=actor, action="pass_keys.levels", target=f"issuer:{issuer_code}",
                 detail={"issuer": issuer_code, "before": _level_list(before), "after": _level_list(levels)})


def _level_list(levels: dict | None) -> list[int] | None:
    return None if levels is None else sorted(int(level) for level in levels)


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
    private_key: PassSigner
    seal_key: bytes


@dataclass(frozen=True)
class VerifyingMaterial:
    trusted_issuers: frozenset[int]
    keys: dict[tuple[int, int], VerifierKey]
    seal_key: bytes | None
    # The levels published by each partner issuer that carries its own (rule 9), and every partner
    # issuer's tier map ({their level: our level or None}; empty until someone maps it).
    issuer_levels: dict[int, frozenset[int]]
    tier_maps: dict[int, dict[str, int | None]]


KEY_RING = WatchedCache("keyring", generation_key=GENERATION_KEY, watched={PassKey: None, Issuer: None, SealKey: None},
                        entry_seconds=KEYRING_CACHE_SECONDS, max_entries=8)


def material(*, issuer_code: int, secret: str) -> tuple[SigningMaterial | None, VerifyingMaterial]:
    """The current signing and verifying keys: loaded once per worker, and again after any change."""
    return KEY_RING.get_or_load(issuer_code, lambda: _load(issuer_code=issuer_code, secret=secret))


def _load(*, issuer_code: int, secret: str) -> tuple[SigningMaterial | None, VerifyingMaterial]:
    fernet = _fernet(secret)
    seal_row = db.session.scalar(select(SealKey).order_by(SealKey.id.desc()))
    seal_key = _decrypt(fernet, seal_row.key_encrypted, "seal key") if seal_row else None
    keys: dict[tuple[int, int], VerifierKey] = {}
    signing = None
    issuers = list(db.session.scalars(select(Issuer).where(Issuer.trusted.is_(True))))
    trusted = frozenset(issuer.code for issuer in issuers)
    issuer_levels = {issuer.code: frozenset(int(level) for level in issuer.tier_levels)
                     for issuer in issuers if issuer.tier_levels is not None and not issuer.local}
    tier_maps = {issuer.code: dict(issuer.tier_map or {}) for issuer in issuers if not issuer.local}
    for key in db.session.scalars(select(PassKey).order_by(PassKey.kid)):
        keys[(key.issuer_code, key.kid)] = VerifierKey(
            public_key=key.public_key, status=key.status, not_before=int(key.not_before.timestamp()),
            not_after=int(key.not_after.timestamp()) if key.not_after else None,
        )
        if key.issuer_code == issuer_code and key.status == "active" and key.private_key_encrypted and seal_key:
            raw = _decrypt(fernet, key.private_key_encrypted, f"signing key {key.kid}")
            if raw is not None:
                signing = SigningMaterial(issuer_code, key.kid, PassSigner(raw), seal_key)
    return signing, VerifyingMaterial(trusted, keys, seal_key, issuer_levels, tier_maps)


def _decrypt(fernet: Fernet, token: bytes, what: str) -> bytes | None:
    try:
        return fernet.decrypt(token)
    except InvalidToken:
        # A wrong PASS_KEY_SECRET: issue nothing (503) rather than crash; verifying needs only public keys.
        log.error("cannot decrypt the %s: PASS_KEY_SECRET is not the one it was stored under", what)
        return None
