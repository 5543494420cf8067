"""Visitors from partner cities: their tier as ours, and a day tag that stands in for the holder in
daily limits, without either city learning more than docs/federation.md says.

Receiving side (`judge`, called by the redemption through a function the view hands it): a partner
city's pass is taken at the tier level this city's office mapped the partner's level to (none
mapped: `tier_not_accepted`). Only when the perk has a per-holder daily limit, the partner city's
federation endpoint is asked, in a request signed with this city's federation key, for the holder's
tag; the tag is then counted where a resident's subject id is. The issuing city cannot be asked, or
answers anything but a good signed tag: `issuer_unreachable`, never a redemption that skips the limit.

Issuing side (`answer`): a registered partner city, proven by a signature under the key we pinned
for it, sends one of our passes; we check the pass is ours and genuine, open its sealed reference
(docs/pass-format.md: only we can) and answer HMAC(tag key, holder id | partner's issuer code |
the local day the pass was issued), truncated to 128 bits. The tag is stable for one holder, one
receiving city and one day, and unlinkable across cities and days; the request names no merchant
or perk, and nothing of it is stored.
"""
from __future__ import annotations

import hashlib
import hmac
import importlib
import logging
from datetime import datetime, timedelta

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from ..credit.service import tier_levels as credit_tier_levels
from ..credit.tier_names import tier_table
from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..extensions import db, read_outside_transaction
from ..timeutil import from_unix, iso, local_day
from .models import FederationKey, PartnerCity
from .service import CLOCK_SKEW, _fernet, b64, canonical, signing_key, unb64

pass_service = importlib.import_module("backend.pass.service")
pass_codec = importlib.import_module("backend.pass.codec")

log = logging.getLogger(__name__)
REQUEST_FORMAT = "xym-visitor-tag-request/1"
ANSWER_FORMAT = "xym-visitor-tag/1"
# A cashier is waiting: a partner that does not answer within this is unreachable for this scan.
ASK_TIMEOUT = (2, 4)
# The oldest pass we tag: a partner's offline scans arrive within its sync window, never a week late;
# a pass kept longer than that gets no tag (and so cannot be linked to anything).
MAX_PASS_AGE = timedelta(days=7)


# -- receiving side -------------------------------------------------------------------------------

def judge(*, claims, text: str, limited: bool, ctx, own_issuer: int, secret: str,
          post=requests.post) -> tuple[int, str | None]:
    """(our tier level, the visitor's day tag or None) for a verified partner city's pass.

    Raises DomainError: `tier_not_accepted` when the office has not mapped the pass's level to one of
    ours; `issuer_unreachable` when the perk is `limited` and no good tag came from the issuing city."""
    ours = pass_service.local_tier(ctx=ctx, claims=claims, tier_levels=tier_table())
    if not limited:
        return ours, None
    return ours, _ask_tag(claims=claims, text=text, own_issuer=own_issuer, secret=secret, post=post)


def _ask_tag(*, claims, text: str, own_issuer: int, secret: str, post) -> str:
    partner = read_outside_transaction(select(PartnerCity.endpoint, PartnerCity.pinned_key)
                                       .where(PartnerCity.issuer_code == claims.issuer))
    keys = read_outside_transaction(select(FederationKey.private_key_encrypted)
                                    .where(FederationKey.active.is_(True)).order_by(FederationKey.id).limit(1))
    if not partner or not partner[0].endpoint or not keys:
        raise DomainError(ErrorCode.ISSUER_UNREACHABLE)
    endpoint, pinned = partner[0].endpoint, partner[0].pinned_key
    private = Ed25519PrivateKey.from_private_bytes(_fernet(secret).decrypt(keys[0].private_key_encrypted))
    payload = {"format": REQUEST_FORMAT, "from": own_issuer, "pass": text,
               "at": iso(utcnow().replace(microsecond=0))}
    document = {"payload": payload, "alg": "Ed25519", "key": b64(private.public_key().public_bytes_raw()),
                "signature": b64(private.sign(canonical(payload)))}
    try:
        response = post(endpoint.rstrip("/") + "/visitor-tag", json=document, timeout=ASK_TIMEOUT)
        answer = response.json() if response.status_code == 200 else None
    except (requests.RequestException, ValueError) as error:
        log.warning("visitor tag from %s: %s", endpoint, error)
        raise DomainError(ErrorCode.ISSUER_UNREACHABLE) from None
    if answer is None:
        log.warning("visitor tag from %s: HTTP %s", endpoint, response.status_code)
        raise DomainError(ErrorCode.ISSUER_UNREACHABLE)
    tag = _checked_answer(answer, pinned=pinned, claims=claims, own_issuer=own_issuer)
    if tag is None:
        log.warning("visitor tag from %s: the answer did not check out", endpoint)
        raise DomainError(ErrorCode.ISSUER_UNREACHABLE)
    return tag


def _checked_answer(answer, *, pinned: bytes, claims, own_issuer: int) -> str | None:
    """The tag, if the answer is signed by the pinned key and is about this pass, for us."""
    if not isinstance(answer, dict) or not isinstance(answer.get("payload"), dict):
        return None
    payload = answer["payload"]
    try:
        Ed25519PublicKey.from_public_bytes(pinned).verify(unb64(str(answer.get("signature", ""))), canonical(payload))
    except (InvalidSignature, ValueError):
        return None
    tag = payload.get("tag")
    if (payload.get("format") != ANSWER_FORMAT or payload.get("issuer") != claims.issuer
            or payload.get("for") != own_issuer or payload.get("pass_id") != claims.pass_id
            or not isinstance(tag, str) or len(tag) != 32):
        return None
    return tag


# -- issuing side ---------------------------------------------------------------------------------

def tag_key(secret: str) -> bytes:
    """The key of this city's visitor tags, derived from PASS_KEY_SECRET (never leaves the city)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"xinyongma visitor day tags").derive(secret.encode())


def day_tag(*, key: bytes, holder_id: int, receiving_issuer: int, day) -> str:
    message = f"{holder_id}|{receiving_issuer}|{day.isoformat()}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def answer(document, *, ctx, secret: str, now: datetime) -> dict:
    """Our signed answer to a partner city's request for a visitor's day tag (DomainError if refused)."""
    if not isinstance(document, dict) or not isinstance(document.get("payload"), dict):
        raise DomainError(ErrorCode.VALIDATION_ERROR, "不是访客标记请求")
    payload = document["payload"]
    try:
        key = unb64(str(document.get("key", "")))
    except ValueError:
        key = b""
    partner = db.session.scalar(select(PartnerCity).where(PartnerCity.pinned_key == key,
                                                          PartnerCity.issuer_code.is_not(None)))
    if partner is None or payload.get("from") != partner.issuer_code:
        raise DomainError(ErrorCode.FORBIDDEN, "未登记的互认城市")
    try:
        Ed25519PublicKey.from_public_bytes(partner.pinned_key).verify(unb64(str(document.get("signature", ""))),
                                                                      canonical(payload))
    except (InvalidSignature, ValueError):
        raise DomainError(ErrorCode.FORBIDDEN, "签名无效") from None
    try:
        at = datetime.fromisoformat(str(payload.get("at")).replace("Z", "+00:00"))
    except ValueError:
        at = None
    if payload.get("format") != REQUEST_FORMAT or at is None or at.tzinfo is None or abs(at - now) > CLOCK_SKEW:
        raise DomainError(ErrorCode.FORBIDDEN, "请求格式或时间不符")
    text = payload.get("pass")
    if not isinstance(text, str):
        raise DomainError(ErrorCode.VALIDATION_ERROR, "缺少信用码")
    try:
        issued_at = pass_codec.decode_unverified(text)[0].issued_at
    except pass_codec.PassRejected as rejected:
        raise DomainError(ErrorCode(rejected.code), reason=rejected.reason) from None
    # Genuine and ours, judged as of its issue (the visit may be an offline scan synced later).
    claims = pass_service.verify(ctx=ctx, text=text, tier_levels=credit_tier_levels(), now=issued_at)
    if claims.issuer != ctx.issuer_code:
        raise DomainError(ErrorCode.PASS_UNKNOWN_ISSUER)
    if from_unix(claims.issued_at) < now - MAX_PASS_AGE:
        raise DomainError(ErrorCode.PASS_EXPIRED)
    holder_id = pass_service.open_reference(ctx=ctx, claims=claims)
    if holder_id is None:
        raise DomainError(ErrorCode.PASS_INVALID, reason="holder")
    day = local_day(from_unix(claims.issued_at))
    body = {"format": ANSWER_FORMAT, "issuer": ctx.issuer_code, "for": partner.issuer_code,
            "pass_id": claims.pass_id, "day": day.isoformat(),
            "tag": day_tag(key=tag_key(secret), holder_id=holder_id, receiving_issuer=partner.issuer_code, day=day)}
    private, public = signing_key(secret=secret)
    return {"payload": body, "alg": "Ed25519", "key": b64(public), "signature": b64(private.sign(canonical(body)))}
