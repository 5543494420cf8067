"""Steps around passes: a fresh pass for a holder's standing now, and the key list verifiers download."""
from __future__ import annotations

import base64
from typing import Mapping

from sqlalchemy import select

from ..credit.service import standing_or_raise, tiers
from ..credit.tier_names import TierName
from ..extensions import db
from ..timeutil import iso, iso_from_unix
from . import service
from .models import Issuer


def issue_for(*, ctx: service.KeyContext, subject, tier_names: Mapping[int, TierName]) -> dict:
    """A fresh pass for `subject`'s standing now (a backend.auth.holders.Holder: the citizen's own
    or a represented company's, as the view resolved it)."""
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
                # A partner city's levels as ours, so that offline verification maps them as the server does.
                **({} if issuer.local else {"tier_map": issuer.tier_map or {}}),
                # The levels a partner publishes, when it has its own ladder: rule 9 reads its passes by them.
                **({} if issuer.local or issuer.tier_levels is None else {"tier_levels": issuer.tier_levels}),
            }
            for issuer in issuers
        ],
        "tiers": {tier.code: tier.name for tier in tier_rows},
        "tier_levels": {str(tier.level): tier.code for tier in tier_rows},
        "skew_seconds": skew,
    }
