"""The visitor's day tag: stable for one holder, one receiving city and one day, and nothing more."""
from __future__ import annotations

from datetime import date

from backend.federation.visitors import day_tag, tag_key


def test_a_tag_is_stable_for_a_holder_city_and_day_and_unrelated_otherwise():
    key = tag_key("one city's secret")
    day = date(2026, 12, 1)
    tag = day_tag(key=key, holder_id=7, receiving_issuer=130100, day=day)
    assert tag == day_tag(key=key, holder_id=7, receiving_issuer=130100, day=day) and len(tag) == 32
    others = {
        day_tag(key=key, holder_id=8, receiving_issuer=130100, day=day),  # another holder
        day_tag(key=key, holder_id=7, receiving_issuer=110100, day=day),  # another city
        day_tag(key=key, holder_id=7, receiving_issuer=130100, day=date(2026, 12, 2)),  # another day
        day_tag(key=tag_key("another city's secret"), holder_id=7, receiving_issuer=130100, day=day),
    }
    assert tag not in others and len(others) == 4
    # The holder id and the city code do not run together: 7|130100 is not 71|30100.
    assert tag != day_tag(key=key, holder_id=71, receiving_issuer=30100, day=day)
