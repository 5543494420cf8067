"""Multi-domain steps around passes: who the signed-in citizen holds a pass for, and the key list."""
from __future__ import annotations

import base64

from sqlalchemy import select

from ..auth.models import CitizenAccount, CompanyRepresentative
from ..credit.models import CreditSubject
from ..credit.service import standing_or_raise, tiers
from ..errors import DomainError
from ..extensions import db
from ..timeutil import from_unix, iso
from . import service
from .models import Issuer


def holder_subject(*, account_id: int, holder: str | None) -> CreditSubject:
    """The credit subject a citizen shows a pass for: their own, or a company they represent."""
    account = db.session.get(CitizenAccount, account_id)
    if account is None or account.disabled:
        raise DomainError("unauthorized")
    person = db.session.get(CreditSubject, account.subject_id) if account.subject_id else None
    company_id = db.session.scalar(select(CompanyRepresentative.company_subject_id).where(
        CompanyRepresentative.account_id == account_id, CompanyRepresentative.revoked_at.is_(None)))
    company = db.session.get(CreditSubject, company_id) if company_id else None
    if holder == "company" or (holder is None and person is None):
        if company is None:
            raise DomainError("holder_not_bound", "尚未获得企业授权" if holder == "company" else None)
        return company
    if person is None:
        raise DomainError("holder_not_bound")
    return person


def issue_for_account(*, ctx: service.KeyContext, account_id: int, holder: str | None) -> dict:
    subject = holder_subject(account_id=account_id, holder=holder)
    tier_level = standing_or_raise(subject)
    issued = service.issue(ctx=ctx, holder_id=subject.id, holder_kind=subject.kind, tier_level=tier_level)
    tier = {t.level: t for t in tiers()}[tier_level]
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
