"""A ladder change recomputes every subject's tier in one UPDATE, and it gives exactly the tiers the
importer's rule matching gives a subject at a time (backend/credit/service.py: both come from CRITERIA)."""
from __future__ import annotations

import itertools
import secrets

import pytest
from sqlalchemy import delete, func, select

from backend.credit import service
from backend.credit.models import CreditSubject, TierRule
from backend.extensions import db

LADDER = [  # (holder kind, criterion, threshold, tier level): overlapping rungs, so "the highest met" matters
    ("person", "score_at_least", "1050", 2),
    ("person", "score_at_least", "1150", 3),
    ("person", "red_list", None, 1),
    ("company", "rating_in", "B,A,AA,AAA", 1),
    ("company", "rating_in", "AA,AAA", 3),
    ("company", "tax_grade_in", "A", 2),
    ("company", "red_list", None, 3),
]
SCORES = [None, 0, 1049, 1050, 1051, 1149, 1150, 1300]
RATINGS = [None, "D", "C", "B", "A", "AA", "AAA"]
TAX_GRADES = [None, "A", "B", "M"]


@pytest.fixture
def ladder(ctx):
    """The ladder above and a population that meets it every way, in a transaction thrown away after
    (rules and subjects are reference data the other tests keep)."""
    db.session.execute(delete(TierRule))
    db.session.add_all(TierRule(holder_kind=kind, criterion=criterion, threshold=threshold, tier_level=level)
                       for kind, criterion, threshold, level in LADDER)
    flags = list(itertools.product((False, True), repeat=2))  # red list, black list
    people = [dict(kind="person", score=score) for score in SCORES]
    companies = [dict(kind="company", rating=rating, tax_grade=grade)
                 for rating, grade in itertools.product(RATINGS, TAX_GRADES)]
    for n, (standing, (red, black)) in enumerate(itertools.product(people + companies, flags)):
        db.session.add(CreditSubject(identity_hash=secrets.token_hex(32), red_listed=red, black_listed=black,
                                     tier_level=n % 4, **standing))  # a tier from before, often not the new one
    db.session.flush()
    yield
    db.session.rollback()


def test_the_single_update_gives_every_subject_the_tier_of_the_per_row_rule(ladder):
    rules = list(db.session.scalars(select(TierRule)))
    subjects = list(db.session.scalars(select(CreditSubject)))
    expected = {subject.id: service.compute_tier(subject, rules) for subject in subjects}
    before = {subject.id: subject.tier_level for subject in subjects}
    assert len(set(expected.values())) == 4  # 0 to 3 are all reached
    held = subjects[-1]

    changed = service.recompute_all_tiers()

    assert changed == sum(before[key] != level for key, level in expected.items()) > 0
    assert held.tier_level == expected[held.id]  # a subject the session held is read again
    found = dict(db.session.execute(select(CreditSubject.id, CreditSubject.tier_level)).all())
    assert found == expected
    assert service.recompute_all_tiers_row_by_row() == 0  # the per-row rule finds nothing left to change
    assert service.recompute_all_tiers() == 0


def test_the_highest_rung_met_wins_and_the_black_list_overrides_all(ladder):
    service.recompute_all_tiers()

    def tiers(**standing) -> set[int]:
        return set(db.session.scalars(select(CreditSubject.tier_level).filter_by(**standing)))
    assert tiers(kind="person", score=1300, black_listed=False) == {3}
    assert tiers(kind="person", score=1050, red_listed=True, black_listed=False) == {2}
    assert tiers(kind="person", score=None, red_listed=True, black_listed=False) == {1}
    assert tiers(kind="company", rating="B", tax_grade="A", red_listed=False, black_listed=False) == {2}
    assert tiers(kind="company", rating="AAA", tax_grade="A", red_listed=False, black_listed=False) == {3}
    assert tiers(kind="company", rating="C", tax_grade="B", red_listed=True, black_listed=False) == {3}
    assert tiers(kind="company", rating=None, tax_grade=None, red_listed=False, black_listed=False) == {0}
    assert tiers(black_listed=True) == {0}


def test_a_ladder_without_rungs_leaves_no_one_a_tier(ladder):
    db.session.execute(delete(TierRule))
    service.recompute_all_tiers()
    assert db.session.scalar(select(func.max(CreditSubject.tier_level))) == 0
