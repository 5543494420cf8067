"""Tier ladders and standing: which tier a credit subject holds, and whether it may use perks."""
from __future__ import annotations

from sqlalchemy import and_, case, select, true, update

from ..errors import DomainError, ErrorCode
from ..extensions import db
from .models import CreditSubject, Tier, TierRule

RATING_ORDER = ("AAA", "AA", "A", "B", "C", "D")


def tiers() -> list[Tier]:
    return list(db.session.scalars(select(Tier).order_by(Tier.level)))


def tier_levels() -> dict[int, Tier]:
    return {tier.level: tier for tier in tiers()}


# Each criterion is one comparison of one standing column with the rule's threshold, read once here.
# Both ways a ladder is applied come from this table: `rule_matches` (a row at a time: the importer,
# the demo, an objection's explanation) and `tier_expression` (every subject in one UPDATE, after the
# office or `flask city load` changes the ladder), so the two cannot disagree on a rule. A NULL
# standing meets no criterion: Python says so explicitly, SQL by a comparison with NULL not being true.
CRITERIA = {
    # criterion: (column, comparison, how the threshold is read)
    "score_at_least": ("score", "at_least", int),
    "rating_in": ("rating", "one_of", lambda threshold: threshold.split(",")),
    "tax_grade_in": ("tax_grade", "one_of", lambda threshold: threshold.split(",")),
    "red_list": ("red_listed", "set", lambda threshold: None),
}
_COMPARE_ROW = {
    "at_least": lambda value, wanted: value is not None and value >= wanted,
    "one_of": lambda value, wanted: value is not None and value in wanted,
    "set": lambda value, wanted: bool(value),
}
_COMPARE_SQL = {
    "at_least": lambda column, wanted: column >= wanted,
    "one_of": lambda column, wanted: column.in_(wanted),
    "set": lambda column, wanted: column.is_(true()),
}


def _criterion(rule: TierRule):
    """(column name, comparison, threshold as compared) of a rule, or None for a criterion we do not know."""
    known = CRITERIA.get(rule.criterion)
    if known is None:
        return None
    name, compare, read = known
    return name, compare, read(rule.threshold)


def rule_matches(rule: TierRule, subject: CreditSubject) -> bool:
    criterion = _criterion(rule)
    if rule.holder_kind != subject.kind or criterion is None:
        return False
    name, compare, wanted = criterion
    return _COMPARE_ROW[compare](getattr(subject, name), wanted)


def rule_condition(rule: TierRule):
    """`rule_matches` as a SQL condition on credit_subjects' columns (None: it matches no one)."""
    criterion = _criterion(rule)
    if criterion is None:
        return None
    name, compare, wanted = criterion
    return and_(CreditSubject.kind == rule.holder_kind, _COMPARE_SQL[compare](getattr(CreditSubject, name), wanted))


def compute_tier(subject: CreditSubject, rules: list[TierRule]) -> int:
    """The highest tier of the rules the subject meets; 0 when black-listed or none is met."""
    if subject.black_listed:
        return 0
    return max((rule.tier_level for rule in rules if rule_matches(rule, subject)), default=0)


def tier_expression(rules: list[TierRule]):
    """`compute_tier` as one SQL CASE over credit_subjects' columns: black-listed 0, else the first
    rule met of those sorted from the highest tier down (the highest met), else 0."""
    whens = [(CreditSubject.black_listed.is_(true()), 0)]
    for rule in sorted(rules, key=lambda rule: rule.tier_level, reverse=True):
        condition = rule_condition(rule)
        if condition is not None:
            whens.append((condition, rule.tier_level))
    return case(*whens, else_=0)


def recompute_all_tiers() -> int:
    """Apply the current ladder to every subject (after the office edits a rule). Returns changes.

    One UPDATE in the database (a million subjects must not travel through Python one at a time,
    docs/benchmarks.md); it touches only the subjects whose tier changes. Subjects this session
    holds have their tier read again on next use."""
    level = tier_expression(list(db.session.scalars(select(TierRule))))
    changed = db.session.execute(
        update(CreditSubject).where(CreditSubject.tier_level != level).values(tier_level=level)
        .execution_options(synchronize_session=False)).rowcount
    for held in [obj for obj in db.session.identity_map.values() if isinstance(obj, CreditSubject)]:
        db.session.expire(held, ["tier_level", "updated_at"])
    return changed


def recompute_all_tiers_row_by_row() -> int:
    """The same as `recompute_all_tiers`, a subject at a time through `compute_tier`: what the tests hold
    the single UPDATE to, and the bench's before (bench/ladder_bench.py)."""
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
