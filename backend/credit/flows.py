"""Running an upload of the credit platform's export in the background, with progress in import_jobs."""
from __future__ import annotations

import logging
import secrets
import threading
from pathlib import Path

from flask import Flask

from ..extensions import db
from ..audit import record
from .models import ImportJob
from ..timeutil import iso
from . import formats, importer

log = logging.getLogger(__name__)


def start_import(*, app: Flask, upload, actor: str) -> ImportJob:
    """Save the upload, create its job, and load it in a background thread; returns the job at once."""
    folder = Path(app.instance_path) / "imports"
    folder.mkdir(parents=True, exist_ok=True)
    job = ImportJob(kind="credit_subjects", status="pending")
    db.session.add(job)
    db.session.flush()
    # A random part too: job ids are per database, the folder is per checkout (two test runs, or two
    # deployments on one disk, would otherwise write each other's upload). No extension: the file is
    # recognised by its content (formats.py), whatever the clerk's computer named it.
    path = folder / f"{job.id}-{secrets.token_hex(8)}.upload"
    upload.save(path)
    job.total_rows = formats.count_rows(path)
    record(actor=actor, action="credit.import", target=f"import_job:{job.id}", detail={"rows": job.total_rows})
    db.session.commit()
    threading.Thread(target=_run, args=(app, job.id, path), daemon=True, name=f"import-{job.id}").start()
    return job


def _run(app: Flask, job_id: int, path: Path) -> None:
    with app.app_context():
        job = db.session.get(ImportJob, job_id)
        try:
            importer.run_import(rows=formats.read_rows(path), pepper=app.config["IDENTITY_PEPPER"], job=job)
        except importer.ImportFailed as error:
            log.warning("credit import %s failed: %s", job_id, error)  # the job says so already
        finally:
            path.unlink(missing_ok=True)  # the upload holds plaintext ID numbers: keep it no longer than needed
            db.session.remove()


def job_json(job: ImportJob) -> dict:
    return {
        "id": job.id, "status": job.status, "total_rows": job.total_rows, "processed_rows": job.processed_rows,
        "rejected_rows": job.rejected_rows,
        "percent": round(100 * job.processed_rows / job.total_rows, 1) if job.total_rows else (100.0 if job.status == "done" else 0.0),
        "started_at": iso(job.started_at), "finished_at": iso(job.finished_at),
        "errors": job.error.splitlines() if job.error else [],
    }
