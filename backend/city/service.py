"""The office's edits of a city's reference data on screen: the tier names and the tier ladder.

The screen and the city file share one set of rules: an edit is checked by the loader's own
`check_ladder` and written by the loader's own `apply` (backend/city/), so what `flask city load`
refuses, the screen refuses with the same words. A ladder that changes computes every subject's
tier again in the same transaction; the standing and tier-name caches of every worker hear of it
through the change feed (backend/watched_cache.py), so the next pass issued anywhere carries the new tier.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..credit.models import TierRule
from ..credit.service import tiers as all_tiers
from ..errors import DomainError, ErrorCode
from ..extensions import db
from .apply import apply
from .loader import HOLDER_KINDS, CityFileError, check_ladder, ladder_of
from .models import Area


def ladder() -> dict:
    """The tiers (low to high) and each holder kind's ladder, in the city file's words."""
    return {"tiers": [{"level": t.level, "code": t.code, "name": t.name} for t in all_tiers()],
            "ladder": ladder_of(db.session.scalars(select(TierRule)))}


def update_ladder(*, actor: str, tiers: list[dict], ladder: dict, issuer_code: int) -> list[str]:
    """Upsert the tiers (by level; a tier is never deleted, passes and redemptions carry its level)
    and replace each holder kind's ladder; audited as `ladder.update`. Returns what changed."""
    # A criterion left empty on the screen is absent in the file's words.
    ladder = {kind: {key: value for key, value in (table or {}).items() if value not in (None, [])}
              for kind, table in ladder.items()}
    try:
        city = check_ladder(tiers=tiers, ladder=ladder)
        for kind in HOLDER_KINDS:
            city.ladder.setdefault(kind, [])  # the screen always sends both: an empty one is no rung
        changes = apply(city, issuer_code=issuer_code, actor=actor, source="office", action="ladder.update")
        db.session.commit()
    except CityFileError as error:
        db.session.rollback()
        # By location and field, as every validation error's `errors` (the Problem schema, backend/openapi.py).
        raise DomainError(ErrorCode.VALIDATION_ERROR, "；".join(error.errors),
                          errors={"json": {"ladder": error.errors}}) from None
    except IntegrityError:
        db.session.rollback()
        raise DomainError(ErrorCode.VALIDATION_ERROR, "等级代码与另一等级重复", field="tiers") from None
    return changes


def areas() -> list[Area]:
    return list(db.session.scalars(select(Area).order_by(Area.code)))
