"""Bulk load of the credit platform's export: validation, upsert, tiers, progress, plaintext never kept."""
from __future__ import annotations

import io
import random
import time

import pytest

from sqlalchemy import func, select

from backend.credit.identifiers import identity_hash
from backend.credit.models import CreditSubject
from backend.demo import synthetic_uscc
from backend.extensions import db
from backend.audit import AuditEntry
from backend.credit.models import ImportJob

from tests.credit.helpers import HEADER, fresh_ids, subject, upload


def test_cli_import_creates_subjects_with_tiers_and_reports_bad_rows(app, runner, ctx, tmp_path):
    good, better, low, black = fresh_ids(101, 4)
    company = synthetic_uscc(random.Random(102))
    bad_checksum = good[:17] + ("0" if good[17] != "0" else "1")
    csv_path = tmp_path / "export.csv"
    csv_path.write_text(HEADER + "\n".join([
        f"person,{good},1060,,,0,0,2026-11-20",
        f"person,{better},1160,,,0,0,2026-11-20T08:00:00+08:00",
        f"person,{low},1000,,,0,0,",
        f"person,{black},1190,,,0,1,2026-11-20",
        f"company,{company},,B,A,0,0,2026-11-20",
        f"person,{bad_checksum},1100,,,0,0,2026-11-20",
        f"robot,{good},1100,,,0,0,2026-11-20",
    ]) + "\n", encoding="utf-8")
    result = runner.invoke(args=["credit", "import", str(csv_path), "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    assert "处理 7 行，拒绝 2 行" in result.output
    assert "第 7 行：身份证号码校验失败" in result.output and "第 8 行：主体类型" in result.output
    db.session.expire_all()
    assert subject(app, good).tier_level == 1
    assert subject(app, better).tier_level == 3
    assert subject(app, low).tier_level == 0
    assert subject(app, black).tier_level == 0 and subject(app, black).black_listed
    assert subject(app, company).tier_level == 2  # rated B (tier 1) but an A-grade taxpayer (tier 2)
    job = db.session.scalar(select(ImportJob).order_by(ImportJob.id.desc()))
    assert (job.status, job.total_rows, job.processed_rows, job.rejected_rows) == ("done", 7, 7, 2)
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "credit.import"))


def test_reimport_updates_in_place_and_black_list_wins(app, runner, ctx, tmp_path):
    (person,) = fresh_ids(202, 1)
    path = tmp_path / "a.csv"
    path.write_text(HEADER + f"person,{person},1200,,,1,0,2026-11-01\n", encoding="utf-8")
    assert runner.invoke(args=["credit", "import", str(path)]).exit_code == 0
    db.session.expire_all()
    assert subject(app, person).tier_level == 4  # red list
    before = db.session.scalar(select(func.count()).select_from(CreditSubject))
    # The same identity twice in one file: the later row wins.
    path.write_text(HEADER + f"person,{person},1200,,,1,0,2026-11-02\nperson,{person.lower()},1200,,,1,1,2026-11-03\n",
                    encoding="utf-8")
    assert runner.invoke(args=["credit", "import", str(path)]).exit_code == 0
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(CreditSubject)) == before
    updated = subject(app, person)
    assert updated.black_listed and updated.tier_level == 0
    assert updated.source_updated_at.date().isoformat() == "2026-11-03"


def test_identity_plaintext_is_never_stored(app, runner, ctx, tmp_path):
    (person,) = fresh_ids(303, 1)
    path = tmp_path / "p.csv"
    path.write_text(HEADER + f"person,{person},1100,,,0,0,\n", encoding="utf-8")
    assert runner.invoke(args=["credit", "import", str(path)]).exit_code == 0
    row = db.session.execute(select(CreditSubject.__table__).where(
        CreditSubject.identity_hash == identity_hash(pepper=app.config["IDENTITY_PEPPER"], identifier=person))).one()
    assert person not in " ".join(str(value) for value in row)


def test_office_uploads_an_export_and_follows_its_progress(client, auth_header, app):
    ids = fresh_ids(404, 50)
    body = HEADER + "".join(f"person,{identifier},{1040 + i},,,0,0,2026-11-20\n" for i, identifier in enumerate(ids))
    response = client.post("/api/credit/imports", headers=auth_header("office-admin"),
                           data={"file": (io.BytesIO(body.encode()), "export.csv")}, content_type="multipart/form-data")
    assert response.status_code == 202, response.json
    assert response.json["total_rows"] == 50
    job_id = response.json["id"]
    for _ in range(100):
        progress = client.get(f"/api/credit/imports/{job_id}", headers=auth_header("office-analyst")).json
        if progress["status"] in {"done", "failed"}:
            break
        time.sleep(0.05)
    assert progress["status"] == "done" and progress["percent"] == 100.0 and progress["processed_rows"] == 50
    with app.app_context():
        assert subject(app, ids[-1]).tier_level == 1


def test_only_the_office_admin_may_upload(client, auth_header):
    for role in ("office-analyst", "cashier", "citizen"):
        data = {"file": (io.BytesIO(HEADER.encode()), "x.csv")}
        response = client.post("/api/credit/imports", headers=auth_header(role), data=data,
                               content_type="multipart/form-data")
        assert response.status_code == 403, role
    assert client.post("/api/credit/imports").status_code == 401


def test_a_long_import_gives_way_to_the_workers_requests_every_few_hundred_rows(app, runner, ctx, tmp_path,
                                                                               monkeypatch):
    # Under a gevent worker, time.sleep(0) is where the hub serves the worker's other requests.
    from backend.credit import importer

    yields = []
    monkeypatch.setattr(importer.time, "sleep", yields.append)
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "".join(f"person,{identifier},1100,,,0,0,2026-11-20\n"
                                     for identifier in fresh_ids(303, 1200)), encoding="utf-8")
    result = runner.invoke(args=["credit", "import", str(path), "--batch-size", "1000"])
    assert result.exit_code == 0, result.output
    assert yields == [0] * (1200 // importer.ROWS_BETWEEN_YIELDS)


def test_a_score_beyond_the_column_rejects_its_row_and_the_load_goes_on(app, client, auth_header):
    first, huge, last = fresh_ids(505, 3)
    progress = upload(client, auth_header, HEADER + f"person,{first},1100,,,0,0,\nperson,{huge},{10**20},,,0,0,\n"
                                                    f"person,{last},1100,,,0,0,\n")
    assert (progress["status"], progress["processed_rows"], progress["rejected_rows"]) == ("done", 3, 1)
    assert progress["errors"] == ["第 3 行：诚信积分超出范围：100000000000000000000"]
    with app.app_context():
        assert subject(app, first) and subject(app, last) and subject(app, huge) is None


@pytest.mark.parametrize("bad_row, reason", [
    ("person,{id}," + "9" * 200_000 + ",,,0,0,", "第 4 行：单元格过长（超过 128 KB）"),
    ('person,"{id},1100,,,0,0,', "第 4 行：CSV 格式不正确"),  # a quote left open would swallow the file
])
def test_a_row_that_cannot_be_read_fails_the_job_with_its_row_and_a_chinese_reason(client, auth_header, bad_row,
                                                                                    reason):
    good = fresh_ids(606, 4)
    body = HEADER + "".join(f"person,{identifier},1100,,,0,0,\n" for identifier in good[:2])
    progress = upload(client, auth_header, body + bad_row.format(id=good[2]) + f"\nperson,{good[3]},1100,,,0,0,\n")
    assert progress["status"] == "failed" and progress["finished_at"]
    assert progress["errors"][0].startswith(reason), progress["errors"]
    # The next upload is loaded as usual.
    assert upload(client, auth_header, HEADER + f"person,{good[3]},1100,,,0,0,\n")["status"] == "done"


def test_a_stopped_load_keeps_its_committed_batches_and_the_next_import_works(app, runner, ctx, tmp_path):
    ids = fresh_ids(707, 6)
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "".join(f"person,{identifier},1100,,,0,0,\n" for identifier in ids[:4])
                    + f"person,{ids[4]},1100,,,0,0,2026-11-20,{'x' * 200_000}\n", encoding="utf-8")
    result = runner.invoke(args=["credit", "import", str(path), "--batch-size", "2"])
    assert result.exit_code == 1 and "第 6 行：单元格过长" in result.output, result.output
    job = db.session.scalar(select(ImportJob).order_by(ImportJob.id.desc()))
    assert (job.status, job.processed_rows) == ("failed", 4) and job.error.startswith("第 6 行：")
    db.session.expire_all()
    assert all(subject(app, identifier) for identifier in ids[:4]) and subject(app, ids[4]) is None
    path.write_text(HEADER + f"person,{ids[5]},1100,,,0,0,\n", encoding="utf-8")
    assert runner.invoke(args=["credit", "import", str(path)]).exit_code == 0
    db.session.expire_all()
    assert subject(app, ids[5]).score == 1100


def test_whatever_stops_a_batch_fails_the_job_with_its_rows(app, runner, ctx, tmp_path, monkeypatch):
    from backend.credit import importer

    def refuse(values):
        raise OverflowError("Python int too large to convert to SQLite INTEGER")

    monkeypatch.setattr(importer, "_upsert_sqlite", refuse)
    monkeypatch.setattr(importer, "_upsert_postgresql", refuse)
    path = tmp_path / "export.csv"
    path.write_text(HEADER + "".join(f"person,{identifier},1100,,,0,0,\n" for identifier in fresh_ids(808, 3)),
                    encoding="utf-8")
    result = runner.invoke(args=["credit", "import", str(path), "--batch-size", "2"])
    assert result.exit_code == 1 and "第 2–3 行：数据库拒绝写入" in result.output, result.output
    job = db.session.scalar(select(ImportJob).order_by(ImportJob.id.desc()))
    assert job.status == "failed" and job.error.startswith("第 2–3 行：")


def test_a_file_without_the_identifier_column_fails_at_its_header(client, auth_header):
    progress = upload(client, auth_header, "kind,score\nperson,1100\n")
    assert progress["status"] == "failed" and progress["errors"] == ["第 1 行：缺少列：证件号码（identifier）"]


def test_a_file_in_neither_utf8_nor_gb18030_fails_at_its_line_and_loads_nothing(app, client, auth_header):
    first, person = fresh_ids(909, 2)
    progress = upload(client, auth_header, (HEADER + f"person,{first},1100,,,0,0,\n").encode()
                      + f"person,{person},1100,,,0,0,\n".encode("utf-16"))
    assert progress["status"] == "failed" and progress["processed_rows"] == 0
    assert progress["errors"] == ["第 3 行：文件编码无法识别：既不是 UTF-8，也不是 GBK/GB18030（请在 Excel 中另存为 CSV 或 .xlsx）"]
    with app.app_context():
        assert subject(app, first) is None  # the good line before it was not loaded either
