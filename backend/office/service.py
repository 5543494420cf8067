"""The credit office's reviews: redemption statistics grouped seven ways, and their export.

Every answer counts recorded (not voided) redemptions of the local days asked. The sums (how many,
amounts, how many offline) come from the daily rollups plus what changed since (rollup.py), keyed
by day, partner, tier, holder kind and issuing city: every grouping follows from those keys (scenario
and area from the partner), so a year costs what its days cost, not its
millions of redemptions. Distinct beneficiaries are the one figure sums cannot give (a person
who used two perks is one beneficiary, not two: counts of distinct holders do not add up), and are
counted only when asked (`beneficiaries=True`: the dashboard and the CSV ask): exactly from the
redemptions of the range while they are few (at most `exact_up_to`, EXACT_UP_TO by default: about a
day of a city's redemptions, read in tens of milliseconds), else, where the database has them,
from the HyperLogLog sketches beside the rollups (sketches.py: within about 2.3%, and said so).
Without sketches (SQLite, PostgreSQL without the extension) every count is exact, and a year of
10 M redemptions takes seconds. tests/office/test_stats_rollup.py holds every grouping, rolled up
or not, to a plain count of the table.
"""
from __future__ import annotations

import importlib
from datetime import date
from types import SimpleNamespace

from sqlalchemy import Integer, String, case, cast, column, distinct, func, literal, select, table

from .. import replica
from ..credit.models import Tier
from ..credit.tier_names import tier_table
from ..csvsafe import to_csv
from ..merchants.models import Partner, Redemption, Scenario
from ..timeutil import check_day_range
from . import rollup, sketches

pass_models = importlib.import_module("backend.pass.models")

HOLDER_KINDS = {"person": "个人", "company": "企业"}
# The areas (街道/社区) a partner may be in, as far as the statistics read them. Their model is the
# city's (backend/city/models.py), a layer above this one: the columns are named here instead.
AREAS = table("areas", column("id", Integer), column("code", String), column("name", String))
NO_AREA = ("none", "未划分片区")
# A redemption records its pass's issuing city (backend/merchants/service.py); a visitor's row from
# before it did names no city, and is a group of its own.
UNKNOWN_ISSUER = ("unknown", "外地信用码（签发城市未记录）")
GROUPINGS = ("scenario", "partner", "tier", "day", "area", "holder_kind", "issuer")
# Up to this many redemptions in the range (the default of STATS_EXACT_BENEFICIARIES_UP_TO),
# beneficiaries are counted exactly from the rows: a day of a city of 10 M redemptions over two years
# (13,700) reads in about what the sketches of a month cost, and a clerk comparing yesterday with a
# partner's own list sees no 约; three days (41,000) took three to four times as long (docs/benchmarks.md).
EXACT_UP_TO = 20_000
CSV_HEADERS = {"scenario": "场景", "partner": "合作单位", "tier": "信用等级", "day": "日期", "area": "片区",
               "holder_kind": "主体类型", "issuer": "签发城市"}


def _grouping(group_by: str, rows, issuer_code: int):
    """(key, joins) for counted rows `rows` (rollup.counted's columns, or the redemptions seen through
    the same names): the key expression and what must be joined to reach it. Only the column the
    grouping needs is touched (a union of months names its day column `month`)."""
    def via_partner(query):
        return query.join(Partner, Partner.id == rows.partner_id)
    if group_by == "scenario":
        return Scenario.name, lambda q: via_partner(q).join(Scenario, Scenario.id == Partner.scenario_id)
    if group_by == "partner":
        return Partner.name, via_partner
    if group_by == "tier":
        return Tier.code, lambda q: q.join(Tier, Tier.level == rows.tier_level)
    if group_by == "area":
        return (func.coalesce(AREAS.c.code, NO_AREA[0]),
                lambda q: via_partner(q).outerjoin(AREAS, AREAS.c.id == Partner.area_id))
    if group_by == "issuer":
        return case((rows.issuer_code == rollup.HERE_UNRECORDED, literal(str(issuer_code))),
                    (rows.issuer_code == rollup.UNKNOWN_VISITOR, literal(UNKNOWN_ISSUER[0])),
                    else_=cast(rows.issuer_code, String(16))), lambda q: q
    if group_by == "holder_kind":
        return rows.holder_kind, lambda q: q
    return rows.local_day, lambda q: q


def _redemption_columns():
    """The redemptions table under the names of the rollup's columns (rollup.COUNTED)."""
    return SimpleNamespace(local_day=Redemption.local_day, partner_id=Redemption.partner_id,
                           tier_level=Redemption.tier_level, holder_kind=Redemption.holder_kind,
                           issuer_code=rollup.issuer())


def stats(*, group_by: str, day_from: date | None = None, day_to: date | None = None, issuer_code: int | None = None,
          beneficiaries: bool = False, raw: bool = False, exact_up_to: int = EXACT_UP_TO) -> list[dict]:
    """One row per group with recorded redemptions: `key` (stable: a name, a code or a day), `label`
    (what people read: 诚信良好, 个人, 西园街道 ...), redemptions, amount_fen, discount_fen, offline (how
    many were scanned offline) and, with `beneficiaries`, how many distinct holders of this city they
    served (a visitor's holder is sealed by the city that issued the pass: not counted), else None.
    Ordered by key.

    `raw=True` counts every figure from the redemptions instead of the rollups (what the tests
    compare the rollups with). On the read replica when one is set and fresh enough
    (backend/replica.py). `issuer_code`: this city's, by default the local issuer of pass_issuers.
    """
    return _count(group_by=group_by, day_from=day_from, day_to=day_to, issuer_code=issuer_code,
                  beneficiaries=beneficiaries, raw=raw, exact_up_to=exact_up_to)["rows"]


def report(*, group_by: str, day_from: date | None = None, day_to: date | None = None,
           issuer_code: int | None = None, beneficiaries: bool = False, exact_up_to: int = EXACT_UP_TO) -> dict:
    """`{"rows": stats(...), "total": {...}, "beneficiaries_approximate": ...}`. The total's beneficiaries
    are distinct over every group (one person who used two partners is one beneficiary of the whole,
    though one of each partner). `beneficiaries_approximate`: whether the beneficiaries are estimates
    (of the sketches: within about 2.3%, one standard error); None unless counted."""
    answer = _count(group_by=group_by, day_from=day_from, day_to=day_to, issuer_code=issuer_code,
                    beneficiaries=beneficiaries, raw=False, exact_up_to=exact_up_to)
    rows = answer["rows"]
    total = {field: sum(row[field] for row in rows)
             for field in ("redemptions", "amount_fen", "discount_fen", "offline")}
    total["beneficiaries"] = answer["beneficiaries"]
    return {"rows": rows, "total": total, "beneficiaries_approximate": answer["approximate"]}


def _count(*, group_by, day_from, day_to, issuer_code, beneficiaries, raw, exact_up_to) -> dict:
    """{"rows", "beneficiaries" (the total's, or None), "approximate" (or None)}: see stats and report."""
    check_day_range(day_from, day_to)
    if group_by not in GROUPINGS:  # the schema refuses others; a direct caller gets a plain error
        raise ValueError(group_by)

    def count(session, complete_as_of):
        code = issuer_code if issuer_code is not None else session.scalar(
            select(pass_models.Issuer.code).where(pass_models.Issuer.local.is_(True))) or 0
        estimated = None
        if raw:
            figures = _from_rows(session, group_by, code, day_from, day_to)
        else:
            sketched = beneficiaries and sketches.available(session)
            figures, estimated = rollup.read(session, lambda marks: _rolled_up(
                session, marks, group_by, code, day_from, day_to, sketched=sketched))
        people = None
        if raw or beneficiaries:
            redemptions = sum(values[0] for values in figures.values())
            people = estimated if estimated is not None and redemptions > exact_up_to else _exactly(
                session, group_by, code, day_from, day_to, figures if raw else None)
        # A group only the rows have (a redemption recorded between the two reads) waits for the next answer.
        return {key: (*values[:4], None if people is None else people[0].get(key, 0))
                for key, values in figures.items()}, people

    counted, people = replica.read(count)
    labels = _labels(group_by, counted)
    rows = [
        {"key": key, "label": labels.get(key, key), "redemptions": int(figures[0]), "amount_fen": int(figures[1]),
         "discount_fen": int(figures[2]), "offline": int(figures[3]),
         "beneficiaries": None if figures[4] is None else int(figures[4])}
        for key, figures in sorted(counted.items())
    ]
    return {"rows": rows, "beneficiaries": None if people is None else people[1],
            "approximate": None if people is None else people[2]}


def _exactly(session, group_by: str, issuer_code: int, day_from, day_to, found: dict | None):
    """({key: beneficiaries}, total, False) counted from the redemptions (`found`: _from_rows' answer, if read)."""
    found = found if found is not None else _from_rows(session, group_by, issuer_code, day_from, day_to)
    total = session.scalar(_days(select(func.count(distinct(Redemption.subject_id)))
                                 .where(Redemption.status == "recorded"), day_from, day_to))
    return {key: int(values[4]) for key, values in found.items()}, int(total or 0), False


def _from_rows(session, group_by: str, issuer_code: int, day_from, day_to) -> dict:
    """key → (redemptions, amount_fen, discount_fen, offline, beneficiaries), read from the redemptions."""
    key, join = _grouping(group_by, _redemption_columns(), issuer_code)
    query = _days(join(select(key.label("key"), func.count(), func.sum(func.coalesce(Redemption.amount_fen, 0)),
                              func.sum(func.coalesce(Redemption.discount_fen, 0)),
                              func.sum(case((Redemption.offline, 1), else_=0)),
                              func.count(distinct(Redemption.subject_id)))
                       .select_from(Redemption).where(Redemption.status == "recorded")), day_from, day_to)
    return {_text(row[0]): tuple(row[1:]) for row in session.execute(query.group_by(key))}


def _rolled_up(session, marks, group_by: str, issuer_code: int, day_from, day_to, *, sketched: bool):
    """(key → (redemptions, amount_fen, discount_fen, offline), beneficiaries) from the rollups and what
    changed since. Beneficiaries, `sketched` only, are ({key: estimate}, total, True) from the union of
    the sketches in the same statement (the total's over every group: a window over the groups' unions),
    else None."""
    rows = rollup.counted(per_day=group_by == "day", marks=marks, day_from=day_from, day_to=day_to,
                          sketched=sketched)
    key, join = _grouping(group_by, rows.c, issuer_code)
    estimates = []
    if sketched:
        group = sketches.union(rows.c.subjects)
        estimates = [sketches.cardinality(group), sketches.cardinality(sketches.union(group).over())]
    query = join(select(key.label("key"), *(func.sum(rows.c[name]) for name in rollup.SUMS), *estimates)
                 .select_from(rows))
    # A group whose redemptions were all voided since the rollup nets to zero: no recorded row, no group.
    found = session.execute(query.group_by(key).having(func.sum(rows.c.redemptions) > 0)).all()
    figures = {_text(row[0]): tuple(row[1:5]) for row in found}
    if not sketched:
        return figures, None
    return figures, ({_text(row[0]): round(row[5] or 0) for row in found},
                     round(found[0][6] or 0) if found else 0, True)


def _days(query, day_from, day_to):
    if day_from:
        query = query.where(Redemption.local_day >= day_from)
    if day_to:
        query = query.where(Redemption.local_day <= day_to)
    return query


def _text(key) -> str:
    # SQLite hands a day through a union back as text, PostgreSQL as a date: both become "2026-11-01".
    return key.isoformat() if hasattr(key, "isoformat") else str(key)


def _labels(group_by: str, counted: dict) -> dict:
    """The Chinese name of each key (tier codes, holder kinds, area codes and issuer codes are not for people)."""
    if group_by == "tier":
        return {code: name for code, name in tier_table().values()}
    if group_by == "holder_kind":
        return HOLDER_KINDS
    if group_by == "area":
        codes = [key for key in counted if key != NO_AREA[0]]
        names = dict(replica.read(lambda session, _: session.execute(
            select(AREAS.c.code, AREAS.c.name).where(AREAS.c.code.in_(codes))).all())) if codes else {}
        return {**names, NO_AREA[0]: NO_AREA[1]}
    if group_by == "issuer":
        # A code no longer among the issuers (a partner city taken off since) is still a city.
        issuers = {str(code): name for code, name in replica.read(lambda session, _: session.execute(
            select(pass_models.Issuer.code, pass_models.Issuer.name)).all())}
        return {**{key: f"城市代码 {key}" for key in counted}, **issuers, UNKNOWN_ISSUER[0]: UNKNOWN_ISSUER[1]}
    return {}


def share(part: int, whole: int) -> str:
    """A share as people read it: "12.5%" (one decimal), "0.0%" of nothing."""
    return f"{(part * 1000 // whole) / 10 if whole else 0:.1f}%"


def stats_csv(*, rows: list[dict], total: dict, group_by: str, approximate: bool | None = False) -> str:
    """The statistics as CSV for spreadsheets: Chinese labels, amounts in yuan with two decimals, the
    online/offline split, and the total row of `report` at the end. Estimated beneficiaries read 约 N
    (text in a spreadsheet: distinct counts do not add up, so no one should sum them anyway)."""
    def people(figures: dict):
        count = figures["beneficiaries"]
        return f"约 {count}" if approximate and count is not None else count
    return to_csv([
        [CSV_HEADERS[group_by], "核销次数", "消费金额（元）", "优惠金额（元）", "受惠主体数", "线上核销", "离线核销",
         "离线占比"],
        *([row["label"], row["redemptions"], _yuan(row["amount_fen"]), _yuan(row["discount_fen"]),
           people(row), row["redemptions"] - row["offline"], row["offline"],
           share(row["offline"], row["redemptions"])] for row in rows),
        ["合计", total["redemptions"], _yuan(total["amount_fen"]), _yuan(total["discount_fen"]), people(total),
         total["redemptions"] - total["offline"], total["offline"], share(total["offline"], total["redemptions"])],
    ])


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"
