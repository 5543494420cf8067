"""CSV for spreadsheets that is safe to open: no cell a spreadsheet would run as a formula.

Every CSV the app exports is written here. A partner or scenario name is typed by people outside
the office; named `=HYPERLINK("http://…","点击")` it would become a live link (or worse, a DDE
command) in the clerk's Excel. OWASP's rule (CSV Injection): a text cell that starts with `=`, `+`,
`-`, `@`, a tab or a carriage return gets a leading single quote, which spreadsheets show as text.
"""
from __future__ import annotations

import csv
import io
from typing import Iterable, Iterator

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutral(value):
    """The cell as a spreadsheet should show it: text that starts like a formula gets a leading `'`.
    Numbers are ours, not typed by anyone, and pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(rows: Iterable[Iterable]) -> str:
    """The rows as CSV text for Excel on Chinese Windows: a byte-order mark (so that it reads the
    text as UTF-8), CRLF line ends, and every cell neutral."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows([neutral(value) for value in row] for row in rows)
    return "\ufeff" + out.getvalue()


def stream_csv(rows: Iterable[Iterable]) -> Iterator[str]:
    """`to_csv` a line at a time, for exports too long to hold in memory: the byte-order mark first."""
    yield "\ufeff"
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutral(value) for value in row])
        yield out.getvalue()
        out.seek(0)
        out.truncate()
