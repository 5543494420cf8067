"""Whom a signed-in citizen acts for: their own credit subject, or a company they represent.

Every view that serves a citizen as a holder (issuing a pass, its QR, the short code) asks here, as
it asks the guard who is calling.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased

from ..credit.models import CreditSubject
from ..errors import DomainError, ErrorCode
from ..extensions import read_outside_transaction
from ..watched_cache import WatchedCache
from .models import CitizenAccount, CompanyRepresentative
from .privacy import NOTICE_VERSION


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
    consented: bool  # to the current privacy notice (auth/privacy.py)
    person: Holder | None
    company: Holder | None


# Issuing runs every ~45 s for every citizen with the code on screen, and reading the standing was
# its largest cost. Redemption never relies on this cache: its insert checks the holder's row in the
# same statement (backend/merchants/service.py). What a standing depends on is watched; a change to
# any other column (a sign-in time, a score) leaves the cache alone.
STANDINGS = WatchedCache("standing", generation_key="standing:generation", watched={
    CreditSubject: ("kind", "tier_level", "black_listed"),
    CitizenAccount: ("subject_id", "disabled", "privacy_version"),
    CompanyRepresentative: ("account_id", "company_subject_id", "revoked_at"),
}, entry_seconds=300, max_entries=100_000)  # per worker; a few hundred bytes each

_person = aliased(CreditSubject)
_company = aliased(CreditSubject)
# One round trip for the account, its own subject and the company it represents (if any): three
# ORM look-ups cost five times the signature.
_HOLDERS = (
    select(CitizenAccount.disabled, CitizenAccount.privacy_version,
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
        consented=row.privacy_version == NOTICE_VERSION,
        person=Holder(row.person_id, row.person_kind, row.person_tier, row.person_black_listed)
        if row.person_id is not None else None,
        company=Holder(row.company_id, row.company_kind, row.company_tier, row.company_black_listed)
        if row.company_id is not None else None)


def holder_subject(*, account_id: int, holder: str | None) -> Holder:
    """The credit subject a citizen shows a pass for: their own, or a company they represent."""
    holders = STANDINGS.get_or_load(account_id, lambda: _read_holders(account_id))
    if holders is None or holders.disabled:
        raise DomainError(ErrorCode.UNAUTHORIZED)
    if not holders.consented:  # PIPL: no pass, no credit data before the notice is agreed to
        raise DomainError(ErrorCode.CONSENT_REQUIRED)
    if holder == "company" or (holder is None and holders.person is None):
        if holders.company is None:
            raise DomainError(ErrorCode.HOLDER_NOT_BOUND, "尚未获得企业授权" if holder == "company" else None)
        return holders.company
    if holders.person is None:
        raise DomainError(ErrorCode.HOLDER_NOT_BOUND)
    return holders.person
