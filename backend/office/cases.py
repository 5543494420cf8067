"""The case feed (实时、全量反馈): every redemption, refusal and void as a case, in pages by a cursor.

A case is read from the table that already records it (redemptions, failed_attempts, and the audit
log's `redemption.void` entries), so recording a redemption costs nothing more. The cursor carries
the highest id taken from each of the three; a page takes the next rows of each after its mark,
oldest first, and the cursor of each case is the marks just after it. So cursors only grow, and a
consumer that stores the last cursor it acknowledged resumes exactly there: nothing is skipped,
nothing is sent twice.

Ids are handed out when a row is inserted and become visible when its transaction commits, so a
later id can be seen before an earlier one. A row is therefore served only once it is older than
`settle_seconds` (CASE_FEED_SETTLE_SECONDS, 5 s): every transaction that writes one of these rows
is short (one statement, or one locked judgement), far shorter than that. A transaction held open
longer than the settle time could be overtaken; docs/api.md says so.

With a read replica set (backend/replica.py) pages are read there, and the settle time counts back
from the moment up to which the replica holds every commit of the primary, not from now: a lagging
replica delays cases, never skips one. A batch read again `until` a cursor comes from the primary,
the only copy sure to hold all it held the first time.
"""
from __future__ import annotations

import heapq
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable, Iterator

from sqlalchemy import select

from .. import replica
from ..credit.models import CreditSubject
from ..credit.service import tier_levels
from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..extensions import db
from ..merchants.models import FailedAttempt, Partner, Redemption, Scenario
from ..timeutil import SHANGHAI, check_day_range, day_start, iso
from ..audit import AuditEntry

CURSOR = re.compile(r"^c1\.(\d{1,19})\.(\d{1,19})\.(\d{1,19})$")
SOURCES = ("redemption", "refusal", "void")


@dataclass(frozen=True)
class Cursor:
    """The highest id taken from each source: redemptions, failed attempts, audit entries."""

    redemption: int = 0
    refusal: int = 0
    void: int = 0

    def __str__(self) -> str:
        return f"c1.{self.redemption}.{self.refusal}.{self.void}"

    @classmethod
    def parse(cls, text: str | None) -> "Cursor":
        if not text:
            return cls()
        found = CURSOR.match(text)
        if found is None or any(int(part) > 2**63 - 1 for part in found.groups()):
            raise DomainError(ErrorCode.VALIDATION_ERROR, "游标格式不正确", field="after")
        return cls(*(int(part) for part in found.groups()))

    def after(self, source: str, row_id: int) -> "Cursor":
        return Cursor(**{**self.__dict__, source: row_id})


def page(*, after: str | None, limit: int, settle_seconds: int, issuer_code: int, until: str | None = None,
         now: datetime | None = None) -> dict:
    """`{"cases": [...], "next": cursor}`: up to `limit` cases after `after`, oldest first; with
    `until`, none past that cursor (how the pusher sends a batch again exactly as it was)."""
    cursor = Cursor.parse(after)
    bound = Cursor.parse(until) if until else Cursor(*(2**63 - 1,) * 3)
    now = now or utcnow()

    def read(session, complete_as_of):
        settled = min(now, complete_as_of or now) - timedelta(seconds=settle_seconds)
        return _page(session, cursor, bound, settled, limit, issuer_code)

    if until:
        return read(db.session, None)
    return replica.read(read)


def _page(session, cursor: Cursor, bound: Cursor, settled: datetime, limit: int, issuer_code: int) -> dict:
    rows = {
        "redemption": list(session.scalars(
            select(Redemption).where(Redemption.id > cursor.redemption, Redemption.id <= bound.redemption,
                                     Redemption.recorded_at <= settled).order_by(Redemption.id).limit(limit))),
        "refusal": list(session.scalars(
            select(FailedAttempt).where(FailedAttempt.id > cursor.refusal, FailedAttempt.id <= bound.refusal,
                                        FailedAttempt.at <= settled).order_by(FailedAttempt.id).limit(limit))),
        "void": list(session.scalars(
            select(AuditEntry).where(AuditEntry.id > cursor.void, AuditEntry.id <= bound.void,
                                     AuditEntry.action == "redemption.void", AuditEntry.at <= settled)
            .order_by(AuditEntry.id).limit(limit))),
    }
    facts = _Facts(session, rows, issuer_code)
    # Oldest first across the three; within one source, by id (which is what the cursor trusts).
    ordered = heapq.merge(*([(_time(source, row), SOURCES.index(source), row.id, source, row) for row in rows[source]]
                            for source in SOURCES))
    cases = []
    for _, _, row_id, source, row in ordered:
        if len(cases) == limit:
            break
        cursor = cursor.after(source, row_id)
        cases.append({"cursor": str(cursor), **facts.case(source, row)})
    return {"cases": cases, "next": str(cursor)}


# -- the export over a date range (a report, not a delivery: the feed above is what delivers) -------

EXPORT_FIELDS = ("kind", "at", "partner", "perk_id", "scenario", "tier", "holder_kind", "subject_key", "issuer",
                 "amount_fen", "discount_fen", "code", "offline")


def export(*, day_from: date, day_to: date, issuer_code: int, batch: int = 500) -> Iterator[dict]:
    """Every case whose time falls in the local days given (inclusive), with the feed's fields but
    no cursor, oldest first: each source is read in id order `batch` rows at a time, and the three
    are merged by time. Read on the replica when it is fresh enough; memory stays one batch."""
    check_day_range(day_from, day_to)
    start, end = day_start(day_from), day_start(day_to + timedelta(days=1))

    def read(session):
        streams = [_source_rows(session, source, start, end, batch, issuer_code) for source in SOURCES]
        for _, _, _, case in heapq.merge(*streams, key=lambda item: item[:3]):
            yield case
    return replica.stream(read)


def _source_rows(session, source: str, start: datetime, end: datetime, batch: int, issuer_code: int):
    """(time, source, id, case) of one source's rows in [start, end), in id order, a batch at a time."""
    model, time = {"redemption": (Redemption, Redemption.recorded_at), "refusal": (FailedAttempt, FailedAttempt.at),
                   "void": (AuditEntry, AuditEntry.at)}[source]
    query = select(model).where(time >= start, time < end)
    if source == "void":
        query = query.where(AuditEntry.action == "redemption.void")
    last = 0
    while True:
        rows = list(session.scalars(query.where(model.id > last).order_by(model.id).limit(batch)))
        facts = _Facts(session, {name: rows if name == source else [] for name in SOURCES}, issuer_code)
        for row in rows:
            yield _time(source, row), SOURCES.index(source), row.id, facts.case(source, row)
        if len(rows) < batch:
            return
        last = rows[-1].id


KINDS = {"redemption": "核销", "refusal": "拒绝", "void": "撤销"}
HOLDER_KINDS = {"person": "个人", "company": "企业"}
CSV_HEADERS = ("类型", "时间（北京时间）", "合作单位", "优惠编号", "场景代码", "信用等级", "主体类型", "主体平台标识",
               "签发机构代码", "消费金额（元）", "优惠金额（元）", "拒绝原因代码", "离线核销")


def export_csv_rows(cases: Iterable[dict], tier_names: dict[str, str]) -> Iterator[list]:
    """The cases as rows for people: a header, Chinese kinds, holder kinds and tier names, Beijing time, yuan."""
    yield list(CSV_HEADERS)
    for case in cases:
        yield [KINDS[case["kind"]], beijing(case["at"]), case["partner"], case["perk_id"], case["scenario"],
               tier_names.get(case["tier"], case["tier"]), HOLDER_KINDS.get(case["holder_kind"], case["holder_kind"]),
               case["subject_key"], case["issuer"], _yuan(case["amount_fen"]), _yuan(case["discount_fen"]),
               case["code"], "是" if case["offline"] else "否"]


def export_json_lines(cases: Iterable[dict]) -> Iterator[str]:
    """The cases as JSON lines (one object a line, UTF-8, the feed's field names and values)."""
    for case in cases:
        yield json.dumps(case, ensure_ascii=False, separators=(",", ":")) + "\n"


def beijing(at: str | None) -> str:
    return datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S") \
        if at else ""


def _yuan(fen: int | None) -> str:
    return "" if fen is None else f"{fen // 100}.{fen % 100:02d}"


def _time(source: str, row) -> datetime:
    return row.recorded_at if source == "redemption" else row.at


class _Facts:
    """Names behind the ids of one page, read once for the whole page."""

    def __init__(self, session, rows: dict, issuer_code: int):
        self.issuer_code = issuer_code
        self.tiers = {level: tier.code for level, tier in tier_levels().items()}
        voided_ids = {int(entry.target.split(":")[1]) for entry in rows["void"] if entry.target}
        self.voided = {r.id: r for r in session.scalars(select(Redemption).where(Redemption.id.in_(voided_ids)))}
        partner_ids = ({r.partner_id for r in rows["redemption"]} | {r.partner_id for r in rows["refusal"]}
                       | {r.partner_id for r in self.voided.values()}) - {None}
        self.partners = {p.id: (p.name, code) for p, code in session.execute(
            select(Partner, Scenario.code).join(Scenario, Scenario.id == Partner.scenario_id)
            .where(Partner.id.in_(partner_ids)))}
        # The platform's own key for each holder (credit import): how the province matches a case to
        # its subject. Never the ID number, which is not kept; null until an import carries keys.
        subject_ids = ({r.subject_id for r in rows["redemption"]} | {r.subject_id for r in rows["refusal"]}
                       | {r.subject_id for r in self.voided.values()}) - {None}
        self.subject_keys = dict(session.execute(
            select(CreditSubject.id, CreditSubject.subject_key).where(CreditSubject.id.in_(subject_ids))).all())

    def case(self, source: str, row) -> dict:
        if source == "redemption":
            return self._redemption("redemption", row, at=row.recorded_at)
        if source == "void":
            redemption = self.voided.get(int(row.target.split(":")[1])) if row.target else None
            return self._redemption("void", redemption, at=row.at) if redemption else self._empty("void", row.at)
        partner = self.partners.get(row.partner_id, (None, None))
        return {"kind": "refusal", "at": iso(row.at), "partner": partner[0], "perk_id": row.perk_id,
                "scenario": partner[1], "tier": None, "holder_kind": None,
                "subject_key": self.subject_keys.get(row.subject_id), "issuer": self._issuer(row), "amount_fen": None,
                "discount_fen": None, "code": row.code, "offline": row.offline}

    def _redemption(self, kind: str, row: Redemption, *, at: datetime) -> dict:
        partner = self.partners.get(row.partner_id, (None, None))
        return {"kind": kind, "at": iso(at), "partner": partner[0], "perk_id": row.perk_id, "scenario": partner[1],
                "tier": self.tiers.get(row.tier_level), "holder_kind": row.holder_kind,
                "subject_key": self.subject_keys.get(row.subject_id), "issuer": self._issuer(row),
                "amount_fen": row.amount_fen, "discount_fen": row.discount_fen, "code": None, "offline": row.offline}

    def _issuer(self, row) -> int | None:
        """The pass's issuing city, as recorded (a partner city's for a visitor); rows from before it
        was recorded name ours when they have a holder here."""
        if row.issuer_code is not None:
            return row.issuer_code
        return self.issuer_code if row.subject_id is not None else None

    def _empty(self, kind: str, at: datetime) -> dict:
        return {"kind": kind, "at": iso(at), "partner": None, "perk_id": None, "scenario": None, "tier": None,
                "holder_kind": None, "subject_key": None, "issuer": None, "amount_fen": None, "discount_fen": None,
                "code": None, "offline": False}

