"""A merchant's statement: its redemptions by day over one month, and the month's total.

Counted exactly as the office's statistics count (backend/office/service.py): recorded
redemptions only (voided ones excluded), by the local day of the scan.
"""
from __future__ import annotations

import calendar
from datetime import date, timedelta

from sqlalchemy import func, select

from ..errors import DomainError, ErrorCode
from ..extensions import db
from .models import Redemption


def month_bounds(month: str) -> tuple[date, date]:
    """The first and last day of `YYYY-MM`."""
    try:
        year, number = (int(part) for part in month.split("-"))
        first = date(year, number, 1)
    except ValueError:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "月份格式应为 YYYY-MM", field="month") from None
    if len(month) != 7:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "月份格式应为 YYYY-MM", field="month")
    return first, first.replace(day=calendar.monthrange(year, number)[1])


def monthly(*, partner_id: int, month: str) -> dict:
    """`{"month", "days": [{"day", "redemptions", "amount_fen", "discount_fen"}...], "total": {...}}`,
    one entry for every day of the month."""
    first, last = month_bounds(month)
    rows = db.session.execute(
        select(Redemption.local_day, func.count(Redemption.id), func.coalesce(func.sum(Redemption.amount_fen), 0),
               func.coalesce(func.sum(Redemption.discount_fen), 0))
        .where(Redemption.partner_id == partner_id, Redemption.status == "recorded",
               Redemption.local_day >= first, Redemption.local_day <= last)
        .group_by(Redemption.local_day))
    found = {row[0]: row for row in rows}
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        row = found.get(day)
        days.append({"day": day.isoformat(), "redemptions": row[1] if row else 0,
                     "amount_fen": int(row[2]) if row else 0, "discount_fen": int(row[3]) if row else 0})
    total = {key: sum(day[key] for day in days) for key in ("redemptions", "amount_fen", "discount_fen")}
    return {"month": month, "days": days, "total": total}
