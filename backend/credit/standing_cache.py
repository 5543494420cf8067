"""A citizen account's standing (its subject, tier, black list; the company it represents), cached
in each worker for issuing.

Issuing a pass runs every ~45 s for every citizen with the code on screen, and the database read
of the standing was its largest cost. Each worker keeps the rows it read, tagged with the standing
*generation* its change feed knew before the read (backend/watched_cache.py says how that keeps
it from ever serving a stale standing): any committed change that can alter a standing (a
subject's tier, kind or black list, an account's binding or status, a representative's
authorisation; the credit import) makes a new generation. Redemption never relies on this cache:
its insert checks the holder's row in the same statement (backend/merchants/service.py).
"""
from __future__ import annotations

from ..auth.models import CitizenAccount, CompanyRepresentative
from ..watched_cache import WatchedCache
from .models import CreditSubject

GENERATION_KEY = "standing:generation"
ENTRY_SECONDS = 300

# What a standing depends on; a change to any other column (a sign-in time, a score) leaves it alone.
STANDINGS = WatchedCache("standing", generation_key=GENERATION_KEY, watched={
    CreditSubject: ("kind", "tier_level", "black_listed"),
    CitizenAccount: ("subject_id", "disabled"),
    CompanyRepresentative: ("account_id", "company_subject_id", "revoked_at"),
}, entry_seconds=ENTRY_SECONDS, max_entries=100_000)  # per worker; a few hundred bytes each

current_generation = STANDINGS.current_generation


def cached(account_id: int) -> list | None:
    """The row remembered for this account under the current generation, or None (ask the database)."""
    return STANDINGS.get(account_id)


def remember(account_id: int, row: list, generation: str | None) -> None:
    """Keep a row read from the database, tagged with the generation read before it."""
    STANDINGS.put(account_id, row, generation)


def mark_changed(session) -> None:
    """For writes the ORM cannot see (COPY): this transaction changes standings."""
    STANDINGS.mark_changed(session)
