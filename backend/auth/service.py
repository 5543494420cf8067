"""Sessions and identities: access tokens, keyed identity hashes. No Flask imports."""
from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jwt

from ..errors import DomainError, ErrorCode

ISSUER = "xinyongma"
AUDIENCE = "xinyongma-api"
ALGORITHM = "HS256"  # pinned: decode never accepts another algorithm, "none" included

@dataclass(frozen=True)
class Principal:
    """Who is calling: the subject kind and id, the role, and for merchant roles the partner."""

    kind: str  # citizen / staff / device / office
    id: int
    role: str
    partner_id: int | None = None
    session_id: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.id}"


def issue_access_token(*, secret: str, principal: Principal, minutes: int, now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "typ": "access",
        "sub": f"{principal.kind}:{principal.id}",
        "role": principal.role,
        "sid": principal.session_id or str(uuid.uuid4()),
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
    }
    if principal.partner_id is not None:
        claims["pid"] = principal.partner_id
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


# Access tokens this process has verified, with their expiry. A scanner or a citizen's page sends
# the same token with every request, and verifying it again (HMAC, JSON, the claim checks) cost
# more than everything else authentication does; expiry is still checked on every use, and
# revocation is not a property of the token (the session check runs on every request).
_VERIFIED_MAX = 4096
_verified: dict[tuple[str, str], tuple[Principal, int]] = {}


def decode_access_token(*, secret: str, token: str) -> Principal:
    """Verify signature, algorithm, issuer, audience, expiry and token type; return the principal."""
    known = _verified.get((secret, token))
    if known is not None:
        if time.time() >= known[1]:
            _verified.pop((secret, token), None)
            raise DomainError(ErrorCode.TOKEN_EXPIRED)
        return known[0]
    principal, expires_at = _decode(secret=secret, token=token)
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()  # cheap and rare: a worker sees a few thousand live tokens at most per hour
    _verified[(secret, token)] = (principal, expires_at)
    return principal


def _decode(*, secret: str, token: str) -> tuple[Principal, int]:
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], audience=AUDIENCE, issuer=ISSUER,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "typ", "role", "sid"]},
        )
    except jwt.ExpiredSignatureError:
        raise DomainError(ErrorCode.TOKEN_EXPIRED) from None
    except jwt.InvalidTokenError:
        raise DomainError(ErrorCode.UNAUTHORIZED) from None
    if claims["typ"] != "access":
        raise DomainError(ErrorCode.UNAUTHORIZED)
    kind, _, raw_id = claims["sub"].partition(":")
    if kind not in {"citizen", "staff", "device", "office"} or not raw_id.isdigit():
        raise DomainError(ErrorCode.UNAUTHORIZED)
    return Principal(kind=kind, id=int(raw_id), role=claims["role"], partner_id=claims.get("pid"),
                     session_id=claims["sid"]), int(claims["exp"])


def secret_digest(*, key: str, purpose: str, value: str) -> str:
    """Keyed digest of a short-lived secret (SMS code, refresh token, enrolment code) as stored.

    HMAC with the app secret, not a bare hash: a leaked table alone cannot be brute-forced, which
    matters for six-digit SMS codes. `purpose` separates the domains so one digest never matches another.
    """
    return hmac.new(key.encode(), f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def name_hash(*, pepper: str, id_number: str, name: str) -> str:
    """Keyed hash of the name given at binding, tied to the ID number (docs/security.md, identity binding)."""
    return hmac.new(pepper.encode(), f"name\x00{id_number.strip().upper()}\x00{name}".encode(),
                    hashlib.sha256).hexdigest()


def principal_from_subject(sub: str) -> tuple[str, int] | None:
    kind, _, raw_id = sub.partition(":")
    if kind not in {"citizen", "staff", "device", "office"} or not raw_id.isdigit():
        return None
    return kind, int(raw_id)


def unverified_subject(*, secret: str, token: str) -> str | None:
    """The `sub` of a correctly signed access token, revocation not checked: only for rate-limit keys."""
    try:
        return decode_access_token(secret=secret, token=token).actor
    except DomainError:
        return None
