"""Tier ladders and standing: which tier a credit subject holds, and whether it may use perks."""
from __future__ import annotations

from sqlalchemy import select

from ..errors import DomainError, ErrorCode
from ..extensions import db
from .models import CreditSubject, Tier, TierRule

RATING_ORDER = ("AAA", "AA", "A", "B", "C", "D")


def tiers() -> list[Tier]:
    return list(db.session.scalars(select(Tier).order_by(Tier.level)))


def tier_levels() -> dict[int, Tier]:
    return {tier.level: tier for tier in tiers()}


def rule_matches(rule: TierRule, subject: CreditSubject) -> bool:
    if rule.holder_kind != subject.kind:
        return False
    if rule.criterion == "score_at_least":
        return subject.score is not None and subject.score >= int(rule.threshold)
    if rule.criterion == "rating_in":
        return subject.rating is not None and subject.rating in rule.threshold.split(",")
    if rule.criterion == "tax_grade_in":
        return subject.tax_grade is not None and subject.tax_grade in rule.threshold.split(",")
    if rule.criterion == "red_list":
        return bool(subject.red_listed)
    return False


def compute_tier(subject: CreditSubject, rules: list[TierRule]) -> int:
    """The highest tier of the rules the subject meets; 0 when black-listed or none is met."""
    if subject.black_listed:
        return 0
    return max((rule.tier_level for rule in rules if rule_matches(rule, subject)), default=0)


def recompute_all_tiers() -> int:
    """Apply the current ladder to every subject (after the office edits a rule). Returns changes."""
    rules = list(db.session.scalars(select(TierRule)))
    changed = 0
    for subject in db.session.scalars(select(CreditSubject)):
        level = compute_tier(subject, rules)
        if level != subject.tier_level:
            subject.tier_level, changed = level, changed + 1
    return changed


def standing_or_raise(subject: CreditSubject) -> int:
    """The subject's tier if it may use perks now; otherwise the refusal with its reason."""
    if subject.black_listed:
        raise DomainError(ErrorCode.HOLDER_BLACKLISTED)
    if subject.tier_level < 1:
        raise DomainError(ErrorCode.HOLDER_NOT_ELIGIBLE)
    return subject.tier_level
