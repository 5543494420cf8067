"""Issuing and verifying passes: the rules of the 信用码 on top of the codec and the key ring."""
from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import DomainError, ErrorCode
from . import keyring
from .codec import PassClaims, PassRejected, encode_pass, open_holder, seal_holder, verify_pass


@dataclass(frozen=True)
class IssuedPass:
    token: str
    issued_at: int
    expires_at: int
    holder_kind: str
    tier_level: int


@dataclass(frozen=True)
class KeyContext:
    """What the service needs from configuration; built by the view layer from app.config."""

    issuer_code: int
    secret: str
    skew: int
    ttl: int


def _material(ctx: KeyContext):
    return keyring.material(issuer_code=ctx.issuer_code, secret=ctx.secret)


def issue(*, ctx: KeyContext, holder_id: int, holder_kind: str, tier_level: int, now: int | None = None) -> IssuedPass:
    """Sign a fresh pass for a holder already checked as eligible. Writes nothing anywhere."""
    signing, _ = _material(ctx)
    if signing is None:
        raise DomainError(ErrorCode.SERVICE_UNAVAILABLE, "签发密钥未配置")
    issued_at = int(time.time()) if now is None else now
    expires_at = issued_at + ctx.ttl
    token = encode_pass(
        private_key=signing.private_key, issuer=signing.issuer, kid=signing.kid, kind=holder_kind,
        tier=tier_level, issued_at=issued_at, expires_at=expires_at,
        sealed_ref=seal_holder(signing.seal_key, holder_id),
    )
    return IssuedPass(token, issued_at, expires_at, holder_kind, tier_level)


def verify(*, ctx: KeyContext, text: str, tier_levels, now: int | None = None) -> PassClaims:
    """Apply every rule of docs/pass-format.md; raise DomainError with the rule's code on failure.

    `tier_levels` are this city's levels: rule 9 reads its own passes, and those of a partner issuer
    that publishes no levels of its own, against them; a partner's own levels come with the ring."""
    _, verifying = _material(ctx)
    try:
        return verify_pass(
            text, find_key=lambda issuer, kid: verifying.keys.get((issuer, kid)),
            is_known_issuer=verifying.trusted_issuers.__contains__, tier_levels=tier_levels,
            now=int(time.time()) if now is None else now, skew=ctx.skew,
            issuer_tier_levels=verifying.issuer_levels,  # a partner city publishing its own ladder
        )
    except PassRejected as rejected:
        raise DomainError(ErrorCode(rejected.code), reason=rejected.reason) from None


def open_reference(*, ctx: KeyContext, claims: PassClaims) -> int | None:
    """The holder id sealed in a pass of our own issuer; None for a partner city's pass."""
    _, verifying = _material(ctx)
    if claims.issuer != ctx.issuer_code or verifying.seal_key is None:
        return None
    return open_holder(verifying.seal_key, claims.sealed_ref)


def local_tier(*, ctx: KeyContext, claims: PassClaims, tier_levels) -> int:
    """The level a verified pass counts as here: its own for this city's passes; for a partner
    city's, the level this city's office mapped the partner's level to (docs/federation.md).

    Raises DomainError TIER_NOT_ACCEPTED when the partner's level is not mapped, is mapped to None,
    or to a level this city no longer has (not in `tier_levels`), as the scanner refuses it offline."""
    if claims.issuer == ctx.issuer_code:
        return claims.tier
    _, verifying = _material(ctx)
    ours = verifying.tier_maps.get(claims.issuer, {}).get(str(claims.tier))
    if ours is None or ours not in tier_levels:
        raise DomainError(ErrorCode.TIER_NOT_ACCEPTED)
    return ours
