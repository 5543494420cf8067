"""The office's long exports, sent while they are read: the audit log and the cases of a date range.

Each is a generator of text; the view streams it (stream_with_context), so memory stays one batch
whatever the range. Every CSV goes through backend/csvsafe.py: a partner's name, an actor or an
audit detail typed as `=HYPERLINK(...)` opens in Excel as text.
"""
from __future__ import annotations

import json
from datetime import date
from typing import Iterator

from .. import audit, replica
from ..credit.tier_names import tier_table
from ..csvsafe import stream_csv
from ..timeutil import check_day_range, iso
from . import cases as case_feed

AUDIT_HEADERS = ("编号", "时间（北京时间）", "操作人", "操作", "对象", "详情")


def audit_csv(*, actor: str | None, action: str | None, day_from: date | None, day_to: date | None) -> Iterator[str]:
    """The audit log as the screen filters it (actor, action, local days), every entry, newest first,
    with the stored values (an audit is a record: the screen names them in Chinese, the file keeps them)."""
    check_day_range(day_from, day_to)  # refused before the first byte, as a problem response

    def rows(session):
        yield list(AUDIT_HEADERS)
        for entry in audit.every_entry(session=session, actor=actor, action=action, day_from=day_from,
                                       day_to=day_to):
            yield [entry.id, case_feed.beijing(iso(entry.at)), entry.actor, entry.action, entry.target,
                   json.dumps(entry.detail, ensure_ascii=False, sort_keys=True) if entry.detail is not None else ""]
    return stream_csv(replica.stream(rows))


def cases(*, day_from: date, day_to: date, issuer_code: int, fmt: str) -> Iterator[str]:
    """The cases of the local days given (inclusive) as CSV (for people) or JSON lines (for machines)."""
    check_day_range(day_from, day_to)
    found = case_feed.export(day_from=day_from, day_to=day_to, issuer_code=issuer_code)
    if fmt == "jsonl":
        return case_feed.export_json_lines(found)
    return stream_csv(case_feed.export_csv_rows(found, {code: name for code, name in tier_table().values()}))
