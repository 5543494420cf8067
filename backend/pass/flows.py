"""Multi-domain steps around passes: who the signed-in citizen holds a pass for, and the key list."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased

from ..auth.models import CitizenAccount, CompanyRepresentative
from ..credit import standing_cache
from ..credit.models import CreditSubject
from ..credit.service import standing_or_raise, tiers
from ..errors import DomainError, ErrorCode
from ..extensions import db, read_outside_transaction
from ..timeutil import from_unix, iso
from . import service
from .models import Issuer


@dataclass(frozen=True)
class Holder:
    """What issuing needs of a credit subject: who (internal id, kind) and their standing now."""

    id: int
    kind: str
    tier_level: int
    black_listed: bool


_person = aliased(CreditSubject)
_company = aliased(CreditSubject)
# One round trip for the account, its own subject and the company it represents (if any): issuing
# runs every ~45 s per citizen on screen, and three ORM look-ups cost five times the signature.
_HOLDERS = (
    select(CitizenAccount.disabled,
           _person.id, _person.kind, _person.tier_level, _person.black_listed,
           _company.id, _company.kind, _company.tier_level, _company.black_listed)
    .select_from(CitizenAccount)
    .outerjoin(_person, _person.id == CitizenAccount.subject_id)
    .outerjoin(CompanyRepresentative, (CompanyRepresentative.account_id == CitizenAccount.id)
               & CompanyRepresentative.revoked_at.is_(None))
    .outerjoin(_company, _company.id == CompanyRepresentative.company_subject_id)
    .where(CitizenAccount.id == bindparam("account_id"))
    .order_by(CompanyRepresentative.id)
    .limit(1)
)


def holder_subject(*, account_id: int, holder: str | None) -> Holder:
    """The credit subject a citizen shows a pass for: their own, or a company they represent."""
    row = standing_cache.cached(account_id)
    if row is None:
        generation = standing_cache.current_generation()  # before the read: a change during it makes a miss
        rows = read_outside_transaction(_HOLDERS, {"account_id": account_id})
        row = list(rows[0]) if rows else None
        if row is not None:
            standing_cache.remember(account_id, row, generation)
    if row is None or row[0]:
        raise DomainError(ErrorCode.UNAUTHORIZED)
    person = Holder(*row[1:5]) if row[1] is not None else None
    company = Holder(*row[5:9]) if row[5] is not None else None
    if holder == "company" or (holder is None and person is None):
        if company is None:
            raise DomainError(ErrorCode.HOLDER_NOT_BOUND, "尚未获得企业授权" if holder == "company" else None)
        return company
    if person is None:
        raise DomainError(ErrorCode.HOLDER_NOT_BOUND)
    return person


def issue_for_account(*, ctx: service.KeyContext, account_id: int, holder: str | None,
                      tier_names: Mapping[int, tuple[str, str]]) -> dict:
    """A fresh pass for the signed-in citizen's own or company's standing; `tier_names`: level -> (code, name)."""
    subject = holder_subject(account_id=account_id, holder=holder)
    tier_level = standing_or_raise(subject)
    issued = service.issue(ctx=ctx, holder_id=subject.id, holder_kind=subject.kind, tier_level=tier_level)
    code, name = tier_names[tier_level]
    return {
        "token": issued.token, "expires_at": iso_from_unix(issued.expires_at),
        "issued_at": iso_from_unix(issued.issued_at), "holder_kind": subject.kind, "tier": code,
        "tier_name": name,
        # Refresh a little before expiry so the code on screen is always valid when scanned.
        "refresh_after_seconds": max(5, ctx.ttl - 15),
    }


def iso_from_unix(seconds: int) -> str:
    return iso(from_unix(seconds))


def public_key_list(*, skew: int) -> dict:
    """The document verifiers download: trusted issuers, their keys and status, and the tier names."""
    issuers = db.session.scalars(select(Issuer).where(Issuer.trusted.is_(True)).order_by(Issuer.code))
    tier_rows = tiers()
    return {
        "issuers": [
            {
                "issuer": issuer.code, "name": issuer.name, "local": issuer.local,
                "keys": [
                    {"kid": key.kid, "alg": "Ed25519",
                     "public_key": base64.urlsafe_b64encode(key.public_key).rstrip(b"=").decode(),
                     "status": key.status, "not_before": iso(key.not_before), "not_after": iso(key.not_after)}
                    for key in issuer.keys
                ],
            }
            for issuer in issuers
        ],
        "tiers": {tier.code: tier.name for tier in tier_rows},
        "tier_levels": {str(tier.level): tier.code for tier in tier_rows},
        "skew_seconds": skew,
    }
