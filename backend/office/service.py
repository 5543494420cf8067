"""The credit office's reviews: redemption statistics by scenario, partner, tier and day."""
from __future__ import annotations

from sqlalchemy import func, select

from ..credit.models import Tier
from ..errors import DomainError
from ..extensions import db
from ..merchants.models import Partner, Perk, Redemption, Scenario


def stats(*, group_by: str, day_from=None, day_to=None) -> list[dict]:
    """Counts and sums of recorded (not voided) redemptions, grouped for the office's review."""
    columns = {
        "scenario": (Scenario.name, [Perk, Partner, Scenario]),
        "partner": (Partner.name, [Perk, Partner]),
        "tier": (Tier.code, [Tier]),
        "day": (Redemption.local_day, []),
    }
    if group_by not in columns:
        raise DomainError("validation_error", "group_by 只能是 scenario、partner、tier 或 day")
    key, joins = columns[group_by]
    query = select(key.label("key"), func.count(Redemption.id), func.coalesce(func.sum(Redemption.amount_fen), 0),
                   func.coalesce(func.sum(Redemption.discount_fen), 0)).select_from(Redemption)
    for model in joins:
        if model is Perk:
            query = query.join(Perk, Perk.id == Redemption.perk_id)
        elif model is Partner:
            query = query.join(Partner, Partner.id == Redemption.partner_id)
        elif model is Scenario:
            query = query.join(Scenario, Scenario.id == Partner.scenario_id)
        elif model is Tier:
            query = query.join(Tier, Tier.level == Redemption.tier_level)
    query = query.where(Redemption.status == "recorded")
    if day_from:
        query = query.where(Redemption.local_day >= day_from)
    if day_to:
        query = query.where(Redemption.local_day <= day_to)
    query = query.group_by(key).order_by(key)
    return [
        {"key": row[0].isoformat() if hasattr(row[0], "isoformat") else row[0], "redemptions": row[1],
         "amount_fen": int(row[2]), "discount_fen": int(row[3])}
        for row in db.session.execute(query)
    ]
