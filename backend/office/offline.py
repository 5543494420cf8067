"""Each partner's share of offline redemptions: the office's view of how much is taken on trust.

An offline scan is judged at the time the scanner claims (bounded by its silences: docs/security.md,
"Offline backdating"); a partner whose share stands out is the one to ask why.
"""
from __future__ import annotations

from datetime import date

from sqlalchemy import case, func, select

from ..extensions import db
from ..merchants.models import Partner, Redemption
from ..timeutil import check_day_range


def offline_share(*, day_from: date | None = None, day_to: date | None = None) -> list[dict]:
    """Per partner with recorded (not voided) redemptions in the local days given (inclusive): how
    many, how many offline, and the share offline (0..1, four decimals); highest share first."""
    check_day_range(day_from, day_to)
    offline = func.sum(case((Redemption.offline, 1), else_=0))
    query = (select(Partner.name, func.count(Redemption.id), offline)
             .join(Partner, Partner.id == Redemption.partner_id)
             .where(Redemption.status == "recorded")
             .group_by(Partner.id, Partner.name))
    if day_from:
        query = query.where(Redemption.local_day >= day_from)
    if day_to:
        query = query.where(Redemption.local_day <= day_to)
    rows = [{"partner": name, "redemptions": count, "offline": int(offline_count),
             "share": round(int(offline_count) / count, 4)}
            for name, count, offline_count in db.session.execute(query)]
    return sorted(rows, key=lambda row: (-row["share"], row["partner"]))
