"""The files a credit import reads, and the template the office hands out.

A file is recognised by its first bytes, never by its name (an upload's name is whatever the
clerk's computer called it):

* `PK\\x03\\x04`: XLSX, read with openpyxl in read-only mode (the sheet's XML is streamed row by
  row). The first sheet is the data; a row is numbered as Excel numbers it. Note that the format
  keeps every distinct text in one shared-strings table that openpyxl holds in memory, so an XLSX
  of a million ID numbers takes memory in proportion to it, which a CSV does not (docs/benchmarks.md).
* `\\xD0\\xCF\\x11\\xE0`: the old binary .xls, refused (save it as XLSX or CSV).
* a UTF-16 byte-order mark ("Unicode text" in Excel): refused, with the same advice.
* anything else is CSV, in one of the encodings Excel and the platform write:
  1. a UTF-8 byte-order mark: UTF-8 (Excel's "CSV UTF-8"), refused at the first line that is not;
  2. else the whole file decodes as strict UTF-8: UTF-8;
  3. else the whole file decodes as GB18030: GB18030, which includes GBK and GB2312 (Excel's
     plain "CSV" on a Chinese Windows);
  4. else the file is refused at the first line where the decoding that got furthest failed.
  Chinese text in GBK is practically never valid UTF-8 (its bytes would have to fall into UTF-8's
  lead-and-continuation pattern throughout), and a file in plain ASCII reads the same either way,
  so the order decides nothing it should not. The whole file is checked before any row is loaded,
  so a file in neither encoding changes nothing. Neither encoding puts a newline byte inside a
  character, so the check decodes whole lines, a megabyte at a time, and names the failing line.

Headers may be the platform's English names or the template's Chinese ones (`HEADERS`), in any
order; unknown columns are ignored.
"""
from __future__ import annotations

import codecs
import csv
import io
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Iterator
from xml.etree import ElementTree
from zipfile import BadZipFile, ZipFile

XLSX_MAGIC = b"PK\x03\x04"
XLS_MAGIC = b"\xd0\xcf\x11\xe0"
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
CHUNK = 1 << 20
# An XLSX's shared-strings table is held in memory whole (as XML, ~40 bytes per distinct ID number or
# key). Beyond this the upload is refused: a zip bomb, or a file better sent as CSV.
SHARED_STRINGS_MAX = 256 << 20

# Column → its Chinese header in the template first, then other names accepted on import.
HEADERS: dict[str, tuple[str, ...]] = {
    "kind": ("主体类型", "类型"),
    "identifier": ("证件号码", "身份证号码或统一社会信用代码", "身份证号码", "身份证号", "统一社会信用代码"),
    "score": ("诚信积分", "信用分", "积分"),
    "rating": ("信用评价等级", "信易评价", "信用评价"),
    "tax_grade": ("纳税信用等级", "纳税等级"),
    "red_list": ("红名单", "守信红名单"),
    "black_list": ("黑名单", "失信黑名单"),
    "updated_at": ("更新时间", "更新日期"),
    "subject_key": ("平台主体标识", "主体标识"),
}
COLUMNS = tuple(HEADERS)
_CANONICAL = {name: column for column, names in HEADERS.items() for name in (column, *names)}

# What each column takes, for the template's instructions sheet and the import screen.
GUIDE: dict[str, str] = {
    "kind": "个人 或 企业（也可写 person / company）",
    "identifier": "个人填 18 位身份证号码，企业填 18 位统一社会信用代码；请把此列设为“文本”格式，以免 Excel 改成科学计数法",
    "score": "个人的诚信积分，整数；企业留空",
    "rating": "企业的信易评价等级：AAA、AA、A、B、C、D；个人留空",
    "tax_grade": "企业的纳税信用等级：A、B、M、C、D；个人留空",
    "red_list": "是否在守信红名单：是 / 否（留空为否）",
    "black_list": "是否在失信黑名单：是 / 否（留空为否）",
    "updated_at": "信用平台的更新时间，如 2026-11-20 或 2026-11-20 08:00；留空为导入时间",
    "subject_key": "信用平台给该主体的标识（用于向平台反馈案例），原样填写；不得填写身份证号码",
}


class FileRejected(ValueError):
    """The file as a whole cannot be read; nothing of it was loaded. str() is the Chinese reason."""

    def __init__(self, reason: str, *, line: int = 1):
        super().__init__(reason)
        self.line = line


class BrokenFile(ValueError):
    """The file breaks after its start (an XLSX whose compressed sheet is damaged); str() is the reason."""


class NumericText(str):
    """A spreadsheet cell that was a number, as text: an ID number typed as a number has lost its
    last digits, and the importer says so instead of only "check digit wrong"."""


@dataclass(frozen=True)
class Kind:
    """What a file is: `xlsx`, or `csv` with the encoding to read it in."""

    format: str
    encoding: str | None = None


def sniff(path: Path) -> Kind:
    """The file's format from its first bytes, and a CSV's encoding from the whole file."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(XLSX_MAGIC):
        return Kind("xlsx")
    if head.startswith(XLS_MAGIC):
        raise FileRejected("这是旧版 Excel（.xls）文件，请在 Excel 中“另存为” .xlsx 或 CSV 后再导入")
    if head.startswith(UTF16_BOMS):
        raise FileRejected("文件是 UTF-16 编码（Excel 的“Unicode 文本”），请另存为 CSV 或 .xlsx 后再导入")
    if head.startswith(codecs.BOM_UTF8):
        bad = _first_bad_line(path, "utf-8")
        if bad is not None:
            raise FileRejected("文件标明是 UTF-8 编码，但这一行的字节不是 UTF-8（文件可能已损坏或被拼接），请重新导出后再导入",
                               line=bad)
        return Kind("csv", "utf-8-sig")
    utf8_line = _first_bad_line(path, "utf-8")
    if utf8_line is None:
        return Kind("csv", "utf-8")
    gb_line = _first_bad_line(path, "gb18030")
    if gb_line is None:
        return Kind("csv", "gb18030")
    raise FileRejected("文件编码无法识别：既不是 UTF-8，也不是 GBK/GB18030（请在 Excel 中另存为 CSV 或 .xlsx）",
                       line=max(utf8_line, gb_line))


def _first_bad_line(path: Path, encoding: str) -> int | None:
    """The first line (1-based) that does not decode strictly in `encoding`, or None if all do."""
    line, rest = 1, b""
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            data = rest + chunk
            end = data.rfind(b"\n") + 1  # whole lines only: neither encoding has a newline inside a character
            data, rest = data[:end], data[end:]
            bad = _decode_error_at(data, encoding)
            if bad is not None:
                return line + data.count(b"\n", 0, bad)
            line += data.count(b"\n")
    bad = _decode_error_at(rest, encoding)
    return None if bad is None else line + rest.count(b"\n", 0, bad)


def _decode_error_at(data: bytes, encoding: str) -> int | None:
    try:
        data.decode(encoding)
    except UnicodeDecodeError as error:
        return error.start
    return None


def count_rows(path: Path) -> int | None:
    """Rows below the header, for the progress bar: lines of a CSV, the sheet's size of an XLSX
    (None when the file does not say, or cannot be read: the load then says why)."""
    with path.open("rb") as handle:
        if handle.read(4).startswith(XLSX_MAGIC):
            try:
                with _workbook(path) as workbook:
                    rows = workbook.worksheets[0].max_row if workbook.worksheets else None
            except FileRejected:
                return None
            return None if rows is None else max(0, rows - 1)
        handle.seek(0)
        return max(0, sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(CHUNK), b"")) - 1)


def read_rows(path: Path) -> Iterator[dict]:
    """The file's rows as dicts keyed by COLUMNS, one per data line (an empty line yields {}).

    Lazy: nothing is read until the first row is asked for, and a FileRejected then (an encoding,
    a format, a header that will not do) comes before any row, so the load has written nothing.
    """
    kind = sniff(path)
    if kind.format == "xlsx":
        yield from _xlsx_rows(path)
        return
    with path.open(encoding=kind.encoding, newline="") as stream:
        yield from csv_rows(stream)


def csv_rows(stream: IO[str]) -> Iterator[dict]:
    """Rows of a CSV text stream, its header mapped to COLUMNS."""
    # strict: a quote left open would otherwise swallow every later line into one cell, silently.
    reader = csv.reader(stream, strict=True)
    header = next(reader, [])
    columns = _columns(header)
    for cells in reader:
        # A line of empty cells (Excel writes `,,,,` for a row it once formatted) is an empty line.
        yield dict(zip(columns, cells)) if any(cells) else {}


def _columns(header: list) -> list[str]:
    """The header's cells as COLUMNS (an unknown one as `?N`, ignored); refuses a header without the
    two columns every row needs, or naming one column twice."""
    columns, seen = [], set()
    for index, cell in enumerate(header):
        name = "" if cell is None else str(cell).strip().lstrip("\ufeff").strip()
        column = _CANONICAL.get(name) or _CANONICAL.get(name.lower()) or f"?{index}"
        if column in seen and not column.startswith("?"):
            raise FileRejected(f"列重复：{name}（{HEADERS[column][0]}）")
        seen.add(column)
        columns.append(column)
    missing = [column for column in COLUMNS[:2] if column not in seen]
    if missing:
        raise FileRejected("缺少列：" + "、".join(f"{HEADERS[column][0]}（{column}）" for column in missing))
    return columns


@contextmanager
def _workbook(path: Path):
    """The workbook, read-only (streamed). Opened from a file object: by name, openpyxl would refuse
    an upload saved without the .xlsx extension."""
    from openpyxl import load_workbook  # only imports of an XLSX pay for loading openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    with path.open("rb") as handle:
        _refuse_a_bomb(handle)
        try:
            workbook = load_workbook(handle, read_only=True, data_only=True)
        except (*_DAMAGED, InvalidFileException, ValueError) as error:
            raise FileRejected("无法读取这个 Excel 文件（文件损坏或不是 .xlsx），请在 Excel 中重新保存后再导入") from error
        try:
            yield workbook
        finally:
            workbook.close()


def _refuse_a_bomb(handle) -> None:
    """Refuse a workbook whose shared strings would unpack beyond SHARED_STRINGS_MAX: openpyxl holds
    that table in memory whole (the sheet itself is streamed). zipfile never unpacks a member beyond
    the size its directory declares, so the declared size is a true bound."""
    try:
        with ZipFile(handle) as archive:
            declared = sum(info.file_size for info in archive.infolist()
                           if info.filename.lower().endswith("sharedstrings.xml"))
    except _DAMAGED as error:
        raise FileRejected("无法读取这个 Excel 文件（文件损坏或不是 .xlsx），请在 Excel 中重新保存后再导入") from error
    finally:
        handle.seek(0)
    if declared > SHARED_STRINGS_MAX:
        raise FileRejected(f"Excel 文件中的文字超过 {SHARED_STRINGS_MAX >> 20} MB，请另存为 CSV 后再导入")


def _xlsx_rows(path: Path) -> Iterator[dict]:
    with _workbook(path) as workbook:
        if not workbook.worksheets:
            raise FileRejected("Excel 文件里没有工作表")
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        try:
            columns = _columns(list(next(rows, ())))
        except _DAMAGED as error:
            raise FileRejected(_DAMAGED_REASON) from error
        try:
            for cells in rows:  # read-only mode yields the rows Excel left out as empty, so numbers match
                yield {column: _text(cell) for column, cell in zip(columns, cells) if cell is not None}
        except _DAMAGED as error:
            raise BrokenFile(_DAMAGED_REASON) from error


_DAMAGED = (BadZipFile, zlib.error, ElementTree.ParseError, EOFError, KeyError)
_DAMAGED_REASON = "Excel 文件已损坏，无法继续读取，请在 Excel 中重新保存后再导入"


def _text(value) -> str:
    """A cell as the CSV would have carried it: a date as ISO 8601, a whole number without `.0`."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return NumericText(int(value))
    if isinstance(value, (int, float)):
        return NumericText(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEMPLATE_NAME = "信用数据导入模板"


def template(fmt: str) -> tuple[bytes, str, str]:
    """The import template in `fmt` (`csv` or `xlsx`): its bytes, media type and file name."""
    if fmt == "xlsx":
        return template_xlsx(), XLSX_MIMETYPE, f"{TEMPLATE_NAME}.xlsx"
    return template_csv(), "text/csv", f"{TEMPLATE_NAME}.csv"


def template_csv() -> bytes:
    """The import template as CSV: the Chinese header row, UTF-8 with a BOM so that Excel opens it right."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(names[0] for names in HEADERS.values())
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def template_xlsx() -> bytes:
    """The import template as XLSX: the Chinese header row on the first sheet (the ID column formatted
    as text), and what each column takes on a second sheet, which the import does not read."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "信用数据"
    sheet.append([names[0] for names in HEADERS.values()])
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet[f"{letter}1"].font = Font(bold=True)
        sheet.column_dimensions[letter].width = 24 if column in {"identifier", "subject_key", "updated_at"} else 14
        if column in {"identifier", "subject_key", "updated_at"}:
            sheet.column_dimensions[letter].number_format = "@"  # text: Excel would round an 18-digit number
    sheet.freeze_panes = "A2"
    guide = workbook.create_sheet("填写说明")
    guide.append(["列名", "填写说明"])
    for column, names in HEADERS.items():
        guide.append([names[0], GUIDE[column]])
    guide.column_dimensions["A"].width = 16
    guide.column_dimensions["B"].width = 90
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
