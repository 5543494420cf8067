"""Multi-domain steps around passes: who the signed-in citizen holds a pass for, and the key list."""
from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased

from ..auth.models import CitizenAccount, CompanyRepresentative
from ..credit.models import CreditSubject
from ..credit.service import standing_or_raise, tiers
from ..credit.tier_names import TierName
from ..errors import DomainError, ErrorCode
from ..extensions import db, read_outside_transaction
from ..timeutil import from_unix, iso
from ..watched_cache import WatchedCache
from . import service
from .models import Issuer


@dataclass(frozen=True)
class Holder:
    """What issuing needs of a credit subject: who (internal id, kind) and their standing now."""

    id: int
    kind: str
    tier_level: int
    black_listed: bool


@dataclass(frozen=True)
class AccountHolders:
    """Whom a citizen account can show a pass for: its own subject and the company it represents."""

    disabled: bool
    person: Holder | None
    company: Holder | None


# Issuing runs every ~45 s for every citizen with the code on screen, and reading the standing was
# its largest cost. Redemption never relies on this cache: its insert checks the holder's row in the
# same statement (backend/merchants/service.py). What a standing depends on is watched; a change to
# any other column (a sign-in time, a score) leaves the cache alone.
STANDINGS = WatchedCache("standing", generation_key="standing:generation", watched={
    CreditSubject: ("kind", "tier_level", "black_listed"),
    CitizenAccount: ("subject_id", "disabled"),
    CompanyRepresentative: ("account_id", "company_subject_id", "revoked_at"),
}, entry_seconds=300, max_entries=100_000)  # per worker; a few hundred bytes each

_person = aliased(CreditSubject)
_company = aliased(CreditSubject)
# One round trip for the account, its own subject and the company it represents (if any): three
# ORM look-ups cost five times the signature.
_HOLDERS = (
    select(CitizenAccount.disabled,
           _person.id.label("person_id"), _person.kind.label("person_kind"),
           _person.tier_level.label("person_tier"), _person.black_listed.label("person_black_listed"),
           _company.id.label("company_id"), _company.kind.label("company_kind"),
           _company.tier_level.label("company_tier"), _company.black_listed.label("company_black_listed"))
    .select_from(CitizenAccount)
    .outerjoin(_person, _person.id == CitizenAccount.subject_id)
    .outerjoin(CompanyRepresentative, (CompanyRepresentative.account_id == CitizenAccount.id)
               & CompanyRepresentative.revoked_at.is_(None))
    .outerjoin(_company, _company.id == CompanyRepresentative.company_subject_id)
    .where(CitizenAccount.id == bindparam("account_id"))
    .order_by(CompanyRepresentative.id)
    .limit(1)
)


def _read_holders(account_id: int) -> AccountHolders | None:
    rows = read_outside_transaction(_HOLDERS, {"account_id": account_id})
    if not rows:
        return None
    row = rows[0]
    return AccountHolders(
        disabled=row.disabled,
        person=Holder(row.person_id, row.person_kind, row.person_tier, row.person_black_listed)
        if row.person_id is not None else None,
        company=Holder(row.company_id, row.company_kind, row.company_tier, row.company_black_listed)
        if row.company_id is not None else None)


def holder_subject(*, account_id: int, holder: str | None) -> Holder:
    """The credit subject a citizen shows a pass for: their own, or a company they represent."""
    holders = STANDINGS.get_or_load(account_id, lambda: _read_holders(account_id))
    if holders is None or holders.disabled:
        raise DomainError(ErrorCode.UNAUTHORIZED)
    if holder == "company" or (holder is None and holders.person is None):
        if holders.company is None:
            raise DomainError(ErrorCode.HOLDER_NOT_BOUND, "尚未获得企业授权" if holder == "company" else None)
        return holders.company
    if holders.person is None:
        raise DomainError(ErrorCode.HOLDER_NOT_BOUND)
    return holders.person


def issue_for_account(*, ctx: service.KeyContext, account_id: int, holder: str | None,
                      tier_names: Mapping[int, TierName]) -> dict:
    """A fresh pass for the signed-in citizen's own or company's standing."""
    subject = holder_subject(account_id=account_id, holder=holder)
    tier_level = standing_or_raise(subject)
    issued = service.issue(ctx=ctx, holder_id=subject.id, holder_kind=subject.kind, tier_level=tier_level)
    tier = tier_names[tier_level]
    return {
        "token": issued.token, "expires_at": iso_from_unix(issued.expires_at),
        "issued_at": iso_from_unix(issued.issued_at), "holder_kind": subject.kind, "tier": tier.code,
        "tier_name": tier.name,
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
