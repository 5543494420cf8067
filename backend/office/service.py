"""The credit office's reviews: redemption statistics by scenario, partner, tier and day, and their export."""
from __future__ import annotations

from sqlalchemy import func, select

from ..credit.models import Tier
from ..csvsafe import to_csv
from ..errors import DomainError, ErrorCode
from ..extensions import db
from ..merchants.models import Partner, Redemption, Scenario

# group_by → (the key column, the joins that reach it from redemptions)
GROUPINGS = {
    "scenario": (Scenario.name, lambda query: query.join(Partner, Partner.id == Redemption.partner_id)
                 .join(Scenario, Scenario.id == Partner.scenario_id)),
    "partner": (Partner.name, lambda query: query.join(Partner, Partner.id == Redemption.partner_id)),
    "tier": (Tier.code, lambda query: query.join(Tier, Tier.level == Redemption.tier_level)),
    "day": (Redemption.local_day, lambda query: query),
}
CSV_HEADERS = {"scenario": "场景", "partner": "合作单位", "tier": "信用等级", "day": "日期"}


def stats(*, group_by: str, day_from=None, day_to=None) -> list[dict]:
    """Counts and sums of recorded (not voided) redemptions, grouped for the office's review."""
    if group_by not in GROUPINGS:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "group_by 只能是 scenario、partner、tier 或 day")
    key, join = GROUPINGS[group_by]
    query = join(select(key.label("key"), func.count(Redemption.id), func.coalesce(func.sum(Redemption.amount_fen), 0),
                        func.coalesce(func.sum(Redemption.discount_fen), 0)).select_from(Redemption))
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


def stats_csv(*, rows: list[dict], group_by: str) -> str:
    """The statistics as CSV for spreadsheets: amounts in yuan with two decimals, a total row at the end."""
    return to_csv([
        [CSV_HEADERS[group_by], "核销次数", "消费金额（元）", "优惠金额（元）"],
        *([row["key"], row["redemptions"], _yuan(row["amount_fen"]), _yuan(row["discount_fen"])] for row in rows),
        ["合计", sum(r["redemptions"] for r in rows), _yuan(sum(r["amount_fen"] for r in rows)),
         _yuan(sum(r["discount_fen"] for r in rows))],
    ])


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"
