"""The files a credit import reads (UTF-8 with or without BOM, GBK/GB18030, XLSX), the office's template
round trip, and the platform's subject key."""
from __future__ import annotations

import io
import random
from datetime import datetime

import openpyxl
import pytest
from sqlalchemy import func, select

from backend.credit import formats
from backend.credit.models import CreditSubject, ImportJob
from backend.demo import synthetic_uscc
from backend.extensions import db
from tests.credit.helpers import fresh_ids, subject, upload

CHINESE_HEADER = "主体类型,证件号码,诚信积分,信用评价等级,纳税信用等级,红名单,黑名单,更新时间,平台主体标识,姓名\n"


def subject_count() -> int:
    return db.session.scalar(select(func.count()).select_from(CreditSubject))


def last_job() -> ImportJob:
    return db.session.scalar(select(ImportJob).order_by(ImportJob.id.desc()))


def chinese_rows(ids: list[str], company: str) -> str:
    """Rows as a clerk fills the Chinese template, names and all (the name column is not ours to keep)."""
    return (f"个人,{ids[0]},1060,,,否,否,2026-11-20,P-0001,张三丰\n"
            f"个人,{ids[1]},1190,,,是,否,2026-11-20,P-0002,欧阳娜娜\n"
            f"个人,{ids[2]},1190,,,否,是,2026-11-20,P-0003,李四\n"
            f"企业,{company},,B,A,否,否,2026-11-20,C-0001,肇东市龙虾饭店有限公司\n")


def test_a_gbk_file_from_excel_with_chinese_headers_and_names_loads(app, runner, ctx, tmp_path):
    ids, company = fresh_ids(1501, 3), synthetic_uscc(random.Random(1502))
    path = tmp_path / "export.csv"
    raw = (CHINESE_HEADER + chinese_rows(ids, company)).encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # what makes this test one of GBK, not of UTF-8 that GBK happens to read
    path.write_bytes(raw)
    result = runner.invoke(args=["credit", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "处理 4 行，拒绝 0 行" in result.stdout
    db.session.expire_all()
    assert subject(app, ids[0]).tier_level == 1 and subject(app, ids[0]).subject_key == "P-0001"
    assert subject(app, ids[1]).red_listed and subject(app, ids[1]).tier_level == 4
    assert subject(app, ids[2]).black_listed and subject(app, ids[2]).tier_level == 0
    firm = subject(app, company)
    assert (firm.kind, firm.rating, firm.tax_grade, firm.tier_level, firm.subject_key) == ("company", "B", "A", 2,
                                                                                          "C-0001")
    # The names are not kept anywhere in the subjects' rows.
    stored = " ".join(str(value) for row in db.session.execute(select(CreditSubject.__table__)) for value in row)
    assert "张三" not in stored and "欧阳" not in stored and ids[0] not in stored


def test_a_character_only_gb18030_has_is_read(app, runner, ctx, tmp_path):
    # 𠮷 (U+20BB7, in real family names) is outside GBK: Excel and Python write it in GB18030's four bytes.
    (person,) = fresh_ids(1601, 1)
    with pytest.raises(UnicodeEncodeError):
        "𠮷".encode("gbk")
    path = tmp_path / "export.csv"
    path.write_bytes((CHINESE_HEADER + f"个人,{person},1100,,,否,否,,P-𠮷,𠮷祥\n").encode("gb18030"))
    assert formats.sniff(path) == formats.Kind("csv", "gb18030")
    result = runner.invoke(args=["credit", "import", str(path)])
    assert result.exit_code == 0 and "处理 1 行，拒绝 0 行" in result.stdout, result.output
    db.session.expire_all()
    assert subject(app, person).subject_key == "P-𠮷"  # opaque: kept exactly as the platform gave it


@pytest.mark.parametrize("bom", [b"\xef\xbb\xbf", b""], ids=["utf8-bom", "utf8"])
def test_utf8_with_or_without_a_bom_and_chinese_headers_loads(app, runner, ctx, tmp_path, bom):
    ids, company = fresh_ids(1701, 3), synthetic_uscc(random.Random(1702))
    path = tmp_path / "export.csv"
    path.write_bytes(bom + (CHINESE_HEADER + chinese_rows(ids, company)).encode("utf-8"))
    assert formats.sniff(path).encoding == ("utf-8-sig" if bom else "utf-8")
    result = runner.invoke(args=["credit", "import", str(path)])
    assert result.exit_code == 0 and "处理 4 行，拒绝 0 行" in result.stdout, result.output
    db.session.expire_all()
    assert subject(app, company).subject_key == "C-0001" and subject(app, ids[1]).tier_level == 4


def test_a_broken_file_fails_at_its_line_in_chinese_and_changes_nothing(app, runner, ctx, tmp_path):
    ids = fresh_ids(1801, 3)
    path = tmp_path / "export.csv"
    good = (CHINESE_HEADER + f"个人,{ids[0]},1100,,,否,否,,,张三\n个人,{ids[1]},1100,,,否,否,,,李四\n").encode("gbk")
    path.write_bytes(good + b"\xff\xfe broken\n" + f"个人,{ids[2]},1100,,,否,否,,,王五\n".encode("gbk"))
    before = subject_count()
    result = runner.invoke(args=["credit", "import", str(path), "--batch-size", "1"])
    assert result.exit_code == 1
    assert "第 4 行：文件编码无法识别：既不是 UTF-8，也不是 GBK/GB18030" in result.output, result.output
    db.session.expire_all()
    assert subject_count() == before and all(subject(app, identifier) is None for identifier in ids)
    job = last_job()
    assert (job.status, job.processed_rows) == ("failed", 0) and job.error.startswith("第 4 行：")


@pytest.mark.parametrize("head, reason", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500, "第 1 行：这是旧版 Excel（.xls）文件"),
    (b"\xff\xfe" + "kind,identifier\n".encode("utf-16-le"), "第 1 行：文件是 UTF-16 编码"),
    (b"PK\x03\x04 this is no workbook", "第 1 行：无法读取这个 Excel 文件"),
    ("主体类型,姓名\n个人,张三\n".encode("gbk"), "第 1 行：缺少列：证件号码（identifier）"),
    ("主体类型,证件号码,身份证号码\n".encode("gbk"), "第 1 行：列重复：身份证号码（证件号码）"),
    (b"\xef\xbb\xbf" + "主体类型,证件号码\n个人,x\n".encode() + "个人,y\n".encode("gbk"), "第 3 行：文件标明是 UTF-8 编码"),
])
def test_a_file_refused_as_a_whole_says_why_in_chinese(client, auth_header, head, reason):
    progress = upload(client, auth_header, head)
    assert progress["status"] == "failed" and progress["processed_rows"] == 0
    assert progress["errors"][0].startswith(reason), progress["errors"]


def workbook_bytes(rows: list[list]) -> bytes:
    """A real XLSX, as openpyxl writes it (and Excel reads it)."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_xlsx_with_chinese_headers_loads_with_excel_row_numbers(app, client, auth_header):
    ids, company = fresh_ids(1901, 4), synthetic_uscc(random.Random(1902))
    body = workbook_bytes([
        ["主体类型", "证件号码", "诚信积分", "信用评价等级", "纳税信用等级", "红名单", "黑名单", "更新时间", "平台主体标识"],
        ["个人", ids[0], 1060, None, None, "否", "否", datetime(2026, 11, 20, 8, 0), "P-1"],
        ["企业", company, None, "B", "A", None, None, None, "C-1"],
        [],  # an empty row: skipped, and the rows below keep Excel's numbers
        ["个人", int(ids[1][:17] + ("1" if ids[1][17] != "1" else "2")), 1100, None, None, None, None, None, None],
        ["个人", ids[2], 1100, None, None, True, False, None, None],
        ["机器人", ids[3], 1100, None, None, None, None, None, None],
    ])
    progress = upload(client, auth_header, body)
    assert progress["status"] == "done", progress["errors"]
    assert (progress["total_rows"], progress["processed_rows"], progress["rejected_rows"]) == (6, 6, 2)
    assert progress["errors"][0].startswith("第 5 行：身份证号码校验失败：Excel 把证件号码存成了数字")
    assert progress["errors"][1] == "第 7 行：主体类型只能是 个人（person）或 企业（company）：'机器人'"
    with app.app_context():
        first = subject(app, ids[0])
        assert (first.score, first.tier_level, first.subject_key) == (1060, 1, "P-1")
        assert first.source_updated_at.isoformat().startswith("2026-11-20T08:00")
        assert subject(app, company).tier_level == 2 and subject(app, ids[2]).red_listed


def test_a_damaged_xlsx_changes_nothing(app, client, auth_header):
    (person,) = fresh_ids(1951, 1)
    body = bytearray(workbook_bytes([["kind", "identifier"], ["person", person]]))
    body[len(body) // 2:len(body) // 2 + 64] = b"\0" * 64
    progress = upload(client, auth_header, bytes(body))
    assert progress["status"] == "failed" and "Excel 文件" in progress["errors"][0], progress
    with app.app_context():
        assert subject(app, person) is None


def template(client, auth_header, fmt: str):
    answer = client.get("/api/credit/imports/template", headers=auth_header("office-admin"),
                        query_string={"format": fmt})
    assert answer.status_code == 200
    assert "attachment" in answer.headers["Content-Disposition"]
    return answer


def test_the_xlsx_template_downloaded_filled_and_uploaded_loads(app, client, auth_header):
    answer = template(client, auth_header, "xlsx")
    assert answer.mimetype == formats.XLSX_MIMETYPE
    assert "%E4%BF%A1%E7%94%A8" in answer.headers["Content-Disposition"]  # 信用…, the Chinese file name
    book = openpyxl.load_workbook(io.BytesIO(answer.data))
    sheet = book.worksheets[0]
    assert [cell.value for cell in sheet[1]] == ["主体类型", "证件号码", "诚信积分", "信用评价等级", "纳税信用等级",
                                                 "红名单", "黑名单", "更新时间", "平台主体标识"]
    assert book.sheetnames[1] == "填写说明" and sheet.max_row == 1
    ids = fresh_ids(2001, 2)
    sheet.append(["个人", ids[0], 1060, None, None, "否", "否", "2026-11-30", "K-1"])
    sheet.append(["个人", ids[1], 900, None, None, "否", "否", "2026-11-30", "K-2"])
    out = io.BytesIO()
    book.save(out)
    progress = upload(client, auth_header, out.getvalue())
    assert (progress["status"], progress["processed_rows"], progress["rejected_rows"]) == ("done", 2, 0), progress
    with app.app_context():
        assert subject(app, ids[0]).tier_level == 1 and subject(app, ids[1]).tier_level == 0
        assert subject(app, ids[1]).subject_key == "K-2"


def test_the_csv_template_filled_and_saved_by_excel_as_gbk_loads(app, client, auth_header):
    answer = template(client, auth_header, "csv")
    assert answer.mimetype == "text/csv" and answer.data.startswith(b"\xef\xbb\xbf")
    header = answer.data.decode("utf-8-sig")
    assert header.startswith("主体类型,证件号码,")
    (person,) = fresh_ids(2101, 1)
    filled = header + f"个人,{person},1160,,,否,否,2026-11-30,K-9\r\n"
    progress = upload(client, auth_header, filled.encode("gb18030"))  # Excel's plain "CSV" on Chinese Windows
    assert (progress["status"], progress["processed_rows"], progress["rejected_rows"]) == ("done", 1, 0), progress
    with app.app_context():
        assert subject(app, person).tier_level == 3 and subject(app, person).subject_key == "K-9"


def test_only_the_office_admin_downloads_the_template_and_a_bad_format_is_refused(client, auth_header):
    assert client.get("/api/credit/imports/template").status_code == 401
    assert client.get("/api/credit/imports/template", headers=auth_header("cashier")).status_code == 403
    bad = client.get("/api/credit/imports/template", headers=auth_header("office-admin"),
                     query_string={"format": "xls"})
    assert bad.status_code == 422 and bad.json["code"] == "validation_error"


def test_the_subject_key_is_kept_by_a_file_without_one_and_replaced_by_a_new_one(app, runner, ctx, tmp_path):
    (person,) = fresh_ids(2201, 1)
    path = tmp_path / "export.csv"
    path.write_text(f"kind,identifier,score,subject_key\nperson,{person},1100,P-old\n", encoding="utf-8")
    assert runner.invoke(args=["credit", "import", str(path)]).exit_code == 0
    path.write_text(f"kind,identifier,score\nperson,{person},1200\n", encoding="utf-8")
    assert runner.invoke(args=["credit", "import", str(path)]).exit_code == 0
    db.session.expire_all()
    assert (subject(app, person).score, subject(app, person).subject_key) == (1200, "P-old")
    path.write_text(f"kind,identifier,score,subject_key\nperson,{person},1200,P-new\n", encoding="utf-8")
    assert runner.invoke(args=["credit", "import", str(path)]).exit_code == 0
    db.session.expire_all()
    assert subject(app, person).subject_key == "P-new"


def test_a_subject_key_that_is_an_id_number_or_malformed_rejects_its_row(app, runner, ctx, tmp_path):
    person, other = fresh_ids(2301, 2)
    path = tmp_path / "export.csv"
    path.write_text("kind,identifier,subject_key\n" + f"person,{person},{other}\n" + f"person,{other},a b\n"
                    + f"person,{person},{'k' * 65}\n", encoding="utf-8")
    result = runner.invoke(args=["credit", "import", str(path)])
    assert result.exit_code == 0 and "处理 3 行，拒绝 3 行" in result.stdout, result.output
    assert result.stderr.splitlines() == ["第 2 行：平台主体标识不能是身份证号码或统一社会信用代码",
                                          "第 3 行：平台主体标识含有空格或不可见字符",
                                          "第 4 行：平台主体标识超过 64 个字符"]


def test_an_xlsx_whose_shared_strings_unpack_too_large_is_refused_before_loading(app, client, auth_header,
                                                                                 monkeypatch):
    import zipfile

    (person,) = fresh_ids(2601, 1)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(workbook_bytes([["kind", "identifier"], ["person", person]]))) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for item in source.infolist():
            bomb.writestr(item, source.read(item))
        # 4 MB of one repeated text: a few KB compressed (a real bomb holds gigabytes the same way).
        bomb.writestr("xl/sharedStrings.xml", '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                      + "<si><t>x</t></si>" * 250_000 + "</sst>")
    assert len(out.getvalue()) < 100_000
    monkeypatch.setattr(formats, "SHARED_STRINGS_MAX", 1 << 20)
    progress = upload(client, auth_header, out.getvalue())
    assert progress["status"] == "failed" and progress["processed_rows"] == 0
    assert progress["errors"] == ["第 1 行：Excel 文件中的文字超过 1 MB，请另存为 CSV 后再导入"]
    with app.app_context():
        assert subject(app, person) is None


def test_lines_of_empty_cells_that_excel_leaves_are_skipped_and_keep_the_line_numbers(app, runner, ctx, tmp_path):
    first, bad = fresh_ids(2701, 2)
    path = tmp_path / "export.csv"
    path.write_bytes(("主体类型,证件号码,诚信积分\r\n" f"个人,{first},1100\r\n" ",,\r\n" "\r\n"
                      f"个人,{bad[:17]}{'1' if bad[17] != '1' else '2'},1100\r\n" ",,\r\n").encode("gbk"))
    result = runner.invoke(args=["credit", "import", str(path)])
    assert result.exit_code == 0 and "拒绝 1 行" in result.stdout, result.output
    assert result.stderr.splitlines() == ["第 5 行：身份证号码校验失败"]
    db.session.expire_all()
    assert subject(app, first).score == 1100
