"""Trust lists (多地互认): publish ours signed, fetch partners', verify them against a pinned key, apply.

A trust list is `{"payload": {...}, "alg": "Ed25519", "key": <base64url>, "signature": <base64url>}`;
the signature is over the payload's canonical JSON (keys sorted, no spaces, UTF-8). The payload
names the city's issuer, its pass keys with status and validity, what each of its tier levels
means, its federation endpoint, when it was issued and how long it may be relied on
(docs/federation.md). Applying a partner's list is all or nothing: a list that fails any check
(signature, a key other than the pinned one, older than the last one applied, past its maximum age,
a key id whose public key changed) changes nothing and is recorded with its reason.
"""
from __future__ import annotations

import base64
import importlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from ..credit.models import Tier, TierRule
from ..dbtypes import utcnow
from ..errors import DomainError
from ..extensions import db
from .. import audit
from ..timeutil import iso
from .models import FederationKey, PartnerCity

keyring = importlib.import_module("backend.pass.keyring")
pass_models = importlib.import_module("backend.pass.models")
pass_context = importlib.import_module("backend.pass.context")

log = logging.getLogger(__name__)
FORMAT = "xym-trust-list/1"
FETCH_TIMEOUT = (3.05, 10)
CLOCK_SKEW = timedelta(minutes=5)  # between cities' clocks, for issue times a little in the future
CRITERIA = {"score_at_least": "诚信积分 {} 分及以上", "rating_in": "信易评价 {} 级", "tax_grade_in": "纳税信用 {} 级",
            "red_list": "列入守信红名单"}
KIND_NAMES = {"person": "个人", "company": "企业"}


class TrustListRejected(Exception):
    """A partner's list was not applied; `reason` is a short Chinese sentence for the log and the operator."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(payload: dict) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# -- our own list ---------------------------------------------------------------------------------

def signing_key(*, secret: str) -> tuple[Ed25519PrivateKey, bytes]:
    """This city's federation key (made on first use), and its raw public bytes."""
    row = db.session.scalar(select(FederationKey).where(FederationKey.active.is_(True)).order_by(FederationKey.id))
    if row is None:
        private = Ed25519PrivateKey.generate()
        row = FederationKey(public_key=keyring.raw_public_bytes(private), active=True,
                            private_key_encrypted=_fernet(secret).encrypt(private.private_bytes_raw()))
        db.session.add(row)
        db.session.commit()
        return private, row.public_key
    return Ed25519PrivateKey.from_private_bytes(_fernet(secret).decrypt(row.private_key_encrypted)), row.public_key


def _fernet(secret: str) -> Fernet:
    """Encrypts the federation key at rest, under its own key derived from PASS_KEY_SECRET."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"xinyongma federation key storage").derive(secret.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def tier_meanings() -> list[dict]:
    """Each tier level with the ladder's rungs that give it, in words."""
    rules = list(db.session.scalars(select(TierRule).order_by(TierRule.holder_kind, TierRule.id)))
    return [{"level": tier.level, "code": tier.code, "name": tier.name,
             "criteria": [f"{KIND_NAMES.get(rule.holder_kind, rule.holder_kind)}："
                          + CRITERIA.get(rule.criterion, rule.criterion).format(rule.threshold)
                          for rule in rules if rule.tier_level == tier.level]}
            for tier in db.session.scalars(select(Tier).order_by(Tier.level))]


def our_trust_list(*, issuer_code: int, secret: str, endpoint: str, max_age_seconds: int,
                   now: datetime | None = None) -> dict:
    """This city's list, signed with its federation key."""
    issuer = db.session.get(pass_models.Issuer, issuer_code)
    keys = db.session.scalars(select(pass_models.PassKey).where(pass_models.PassKey.issuer_code == issuer_code)
                              .order_by(pass_models.PassKey.kid))
    payload = {
        "format": FORMAT, "issuer": issuer_code, "name": issuer.name if issuer else None,
        "issued_at": iso((now or utcnow()).replace(microsecond=0)), "max_age_seconds": max_age_seconds,
        "endpoint": endpoint,
        "keys": [{"kid": key.kid, "alg": "Ed25519", "public_key": b64(key.public_key), "status": key.status,
                  "not_before": iso(key.not_before), "not_after": iso(key.not_after)} for key in keys],
        "tiers": tier_meanings(),
    }
    private, public = signing_key(secret=secret)
    return {"payload": payload, "alg": "Ed25519", "key": b64(public), "signature": b64(private.sign(canonical(payload)))}


# -- partners' lists ------------------------------------------------------------------------------

def add_partner(*, url: str, pinned_key: str, actor: str) -> PartnerCity:
    raw = unb64(pinned_key)
    if len(raw) != 32:
        raise TrustListRejected("固定公钥应为 32 字节 Ed25519 公钥的 base64url 编码")
    partner = db.session.scalar(select(PartnerCity).where(PartnerCity.url == url))
    if partner is not None:
        raise TrustListRejected("该互认城市已登记；更换固定公钥须先删除再登记")
    partner = PartnerCity(url=url, pinned_key=raw)
    db.session.add(partner)
    db.session.flush()
    audit.record(actor=actor, action="federation.add", target=f"partner_city:{partner.id}",
                 detail={"url": url, "pinned_key": pinned_key})
    db.session.commit()
    return partner


@dataclass(frozen=True)
class Applied:
    partner: str
    changes: list[str]


def _parse_time(text) -> datetime:
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        raise TrustListRejected("时间格式不正确") from None
    if moment.tzinfo is None:
        raise TrustListRejected("时间缺少时区")
    return moment


def check(document, *, partner: PartnerCity, own_issuer: int, now: datetime) -> dict:
    """The payload of a partner's list if it may be applied; otherwise TrustListRejected."""
    if not isinstance(document, dict) or not isinstance(document.get("payload"), dict):
        raise TrustListRejected("不是信任列表")
    if document.get("alg") != "Ed25519":
        raise TrustListRejected("签名算法不是 Ed25519")
    if document.get("key") != b64(partner.pinned_key):
        raise TrustListRejected("信任列表的签名公钥与登记时固定的公钥不同")
    payload = document["payload"]
    try:
        Ed25519PublicKey.from_public_bytes(partner.pinned_key).verify(unb64(str(document.get("signature", ""))),
                                                                      canonical(payload))
    except (InvalidSignature, ValueError):
        raise TrustListRejected("签名无效") from None
    if payload.get("format") != FORMAT:
        raise TrustListRejected("信任列表格式版本不受支持")
    issuer = payload.get("issuer")
    if not isinstance(issuer, int) or isinstance(issuer, bool) or not 1 <= issuer < 2**24 or issuer == own_issuer:
        raise TrustListRejected("签发机构代码无效")
    if partner.issuer_code is not None and issuer != partner.issuer_code:
        raise TrustListRejected("签发机构代码与此前不同")
    issued_at = _parse_time(payload.get("issued_at"))
    max_age = payload.get("max_age_seconds")
    if not isinstance(max_age, int) or isinstance(max_age, bool) or not 60 <= max_age <= 30 * 86400:
        raise TrustListRejected("有效期 max_age_seconds 无效")
    if issued_at > now + CLOCK_SKEW:
        raise TrustListRejected("签发时间晚于当前时间")
    if now > issued_at + timedelta(seconds=max_age):
        raise TrustListRejected("信任列表已过期")
    if partner.last_issued_at is not None and issued_at < partner.last_issued_at:
        raise TrustListRejected("信任列表早于已采用的版本（重放）")
    keys = payload.get("keys")
    if not isinstance(keys, list) or not all(isinstance(key, dict) for key in keys):
        raise TrustListRejected("密钥列表无效")
    for key in keys:
        if (key.get("alg") != "Ed25519" or not isinstance(key.get("kid"), int) or not 0 <= key["kid"] < 2**16
                or key.get("status") not in ("active", "retired", "revoked")):
            raise TrustListRejected("密钥条目无效")
        if len(unb64(str(key.get("public_key", "")))) != 32:
            raise TrustListRejected("公钥长度无效")
    return {**payload, "_issued_at": issued_at}


def apply(payload: dict, *, partner: PartnerCity, actor: str, now: datetime) -> list[str]:
    """Bring the partner's issuer and keys in line with its checked list (the caller commits)."""
    Issuer, PassKey = pass_models.Issuer, pass_models.PassKey
    code, changes = payload["issuer"], []
    issuer = db.session.get(Issuer, code)
    if issuer is not None and issuer.local:
        raise TrustListRejected("签发机构代码是本市的")
    if issuer is None:
        issuer = Issuer(code=code, name=payload.get("name") or str(code), local=False, trusted=True)
        db.session.add(issuer)
        changes.append(f"新增互认签发机构 {code}")
    if not issuer.trusted:
        issuer.trusted = True
        changes.append(f"恢复信任签发机构 {code}")
    if payload.get("name") and issuer.name != payload["name"]:
        issuer.name = payload["name"]
    db.session.flush()
    existing = {key.kid: key for key in db.session.scalars(select(PassKey).where(PassKey.issuer_code == code))}
    listed = set()
    for entry in payload["keys"]:
        listed.add(entry["kid"])
        raw = unb64(entry["public_key"])
        not_before = _parse_time(entry["not_before"]) if entry.get("not_before") else now
        not_after = _parse_time(entry["not_after"]) if entry.get("not_after") else None
        key = existing.get(entry["kid"])
        if key is None:
            db.session.add(PassKey(issuer_code=code, kid=entry["kid"], public_key=raw, private_key_encrypted=None,
                                   status=entry["status"], not_before=not_before, not_after=not_after,
                                   revoked_at=now if entry["status"] == "revoked" else None))
            changes.append(f"新增密钥 {code}/{entry['kid']}（{entry['status']}）")
            continue
        if key.public_key != raw:
            raise TrustListRejected(f"密钥 {entry['kid']} 的公钥与此前不同")
        if key.status == "revoked" and entry["status"] != "revoked":
            continue  # a revocation is final, whatever a later list says
        if (key.status, key.not_after) != (entry["status"], not_after):
            changes.append(f"密钥 {code}/{entry['kid']}：{key.status} → {entry['status']}")
            key.status, key.not_after = entry["status"], not_after
            if entry["status"] == "revoked":
                key.revoked_at = now
    for kid, key in existing.items():
        if kid not in listed and key.status != "revoked":
            key.status, key.revoked_at = "revoked", now
            changes.append(f"密钥 {code}/{kid} 不在列表中：吊销")
    partner.issuer_code, partner.name = code, payload.get("name")
    endpoint = payload.get("endpoint")
    partner.endpoint = endpoint if isinstance(endpoint, str) and endpoint.startswith(("https://", "http://")) else None
    partner.tiers = [{"level": tier["level"], "code": str(tier.get("code", "")), "name": str(tier.get("name", "")),
                      "criteria": [str(line) for line in tier.get("criteria") or []]}
                     for tier in payload.get("tiers") or []
                     if isinstance(tier, dict) and isinstance(tier.get("level"), int) and 1 <= tier["level"] <= 15]
    # The levels it publishes are what rule 9 reads its passes against (pass_issuers.tier_levels).
    issuer.tier_levels = {str(tier["level"]): tier["code"] for tier in partner.tiers}
    partner.last_issued_at = payload["_issued_at"]
    partner.trusted_until = payload["_issued_at"] + timedelta(seconds=payload["max_age_seconds"])
    partner.last_synced_at, partner.last_error = now, None
    audit.record(actor=actor, action="federation.sync", target=f"partner_city:{partner.id}",
                 detail={"issuer": code, "issued_at": iso(payload["_issued_at"]), "changes": changes})
    return changes


def sync_partner(partner: PartnerCity, *, own_issuer: int, actor: str, now: datetime | None = None,
                 fetch=requests.get) -> list[str]:
    """Fetch, check and apply one partner's list; TrustListRejected (recorded, nothing changed) if not."""
    now = now or utcnow()
    try:
        try:
            answer = fetch(partner.url, timeout=FETCH_TIMEOUT)
            document = answer.json() if answer.status_code == 200 else None
        except (requests.RequestException, ValueError):
            raise TrustListRejected("无法获取信任列表") from None
        if document is None:
            raise TrustListRejected(f"获取信任列表失败（HTTP {answer.status_code}）")
        payload = check(document, partner=partner, own_issuer=own_issuer, now=now)
        changes = apply(payload, partner=partner, actor=actor, now=now)
    except TrustListRejected as rejected:
        db.session.rollback()
        partner = db.session.get(PartnerCity, partner.id)
        partner.last_error, partner.last_synced_at = rejected.reason, now
        log.warning("trust list of %s refused: %s", partner.url, rejected.reason)
        audit.record(actor=actor, action="federation.refused", target=f"partner_city:{partner.id}",
                     detail={"url": partner.url, "reason": rejected.reason})
        _expire_stale(now)
        db.session.commit()
        pass_context.key_ring_changed()
        raise
    _expire_stale(now)
    db.session.commit()
    pass_context.key_ring_changed()
    return changes


def _expire_stale(now: datetime) -> None:
    """A partner whose last good list is past its maximum age is no longer trusted until a new one."""
    for partner in db.session.scalars(select(PartnerCity).where(PartnerCity.trusted_until.is_not(None),
                                                                PartnerCity.trusted_until < now)):
        issuer = db.session.get(pass_models.Issuer, partner.issuer_code)
        if issuer is not None and issuer.trusted and not issuer.local:
            issuer.trusted = False
            audit.record(actor="federation", action="federation.expired", target=f"partner_city:{partner.id}",
                         detail={"issuer": partner.issuer_code})


def sync_all(*, own_issuer: int, actor: str, now: datetime | None = None, fetch=requests.get) -> dict[str, str]:
    """Every partner in turn; {url: "ok: N changes" or the reason it was refused}."""
    results = {}
    for partner_id in list(db.session.scalars(select(PartnerCity.id).order_by(PartnerCity.id))):
        partner = db.session.get(PartnerCity, partner_id)
        try:
            changes = sync_partner(partner, own_issuer=own_issuer, actor=actor, now=now, fetch=fetch)
            results[partner.url] = f"已同步，{len(changes)} 处改动"
        except TrustListRejected as rejected:
            results[partner.url] = f"未采用：{rejected.reason}"
    return results


# -- the office's view of partners, and the tier mapping ------------------------------------------

class NotFound(Exception):
    pass


def partners() -> list[dict]:
    """Every partner city with its state, its tier levels and what the office mapped each to."""
    ours = {tier.level: tier for tier in db.session.scalars(select(Tier))}
    rows = []
    for partner in db.session.scalars(select(PartnerCity).order_by(PartnerCity.id)):
        issuer = db.session.get(pass_models.Issuer, partner.issuer_code) if partner.issuer_code else None
        mapping = (issuer.tier_map if issuer else None) or {}
        rows.append({
            "id": partner.id, "url": partner.url, "issuer": partner.issuer_code, "name": partner.name,
            "trusted": bool(issuer and issuer.trusted), "trusted_until": iso(partner.trusted_until),
            "last_synced_at": iso(partner.last_synced_at), "last_error": partner.last_error,
            "tiers": [{**tier, "maps_to": ours[mapping[str(tier["level"])]].code
                       if mapping.get(str(tier["level"])) in ours else None}
                      for tier in partner.tiers or []],
        })
    return rows


def set_tier_map(*, partner_id: int, mapping: dict, actor: str) -> dict:
    """Map the partner's tier levels to ours: {their level: our tier code, or None for not accepted}.

    A level left out is not accepted. Checked here for what is the office's (the partner, our codes),
    then stored and audited as `federation.tier_map` by the key ring's one store_tier_map, which also
    refuses a level the partner does not publish. Raises NotFound, or ValueError naming what does not fit."""
    partner = db.session.get(PartnerCity, partner_id)
    if partner is None or partner.issuer_code is None:
        raise NotFound()
    ours = {tier.code: tier.level for tier in db.session.scalars(select(Tier))}
    new = {}
    for level, code in mapping.items():
        if code is not None and code not in ours:
            raise ValueError(f"本市没有信用等级 {code}")
        if not str(level).isdigit():
            raise ValueError(f"对方城市没有等级 {level}")
        new[str(int(level))] = ours[code] if code is not None else None
    try:
        keyring.store_tier_map(issuer_code=partner.issuer_code, mapping=new, actor=actor,
                               action="federation.tier_map", target=f"partner_city:{partner.id}")
    except DomainError:  # its issuer is gone (not synced since it was removed)
        raise NotFound() from None
    db.session.commit()
    pass_context.key_ring_changed()  # the key list carries the mapping: scanners fetch it anew
    return next(row for row in partners() if row["id"] == partner_id)
