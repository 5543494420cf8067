"""What the credit import's tests share: fresh ID numbers, a subject by its ID number, an upload awaited."""
from __future__ import annotations

import io
import random
import time

from sqlalchemy import select

from backend.credit.identifiers import identity_hash
from backend.credit.models import CreditSubject
from backend.demo import synthetic_id_number
from backend.extensions import db

HEADER = "kind,identifier,score,rating,tax_grade,red_list,black_list,updated_at\n"


def fresh_ids(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [synthetic_id_number(rng) for _ in range(n)]


def subject(app, identifier: str) -> CreditSubject | None:
    return db.session.scalar(select(CreditSubject).where(
        CreditSubject.identity_hash == identity_hash(pepper=app.config["IDENTITY_PEPPER"], identifier=identifier)))


def upload(client, auth_header, body: str | bytes) -> dict:
    """Upload an export through the office's API and wait for its job to end (or 30 s: a job still
    running when its test ends would write into the next test's job, whose id SQLite reuses)."""
    raw = body.encode() if isinstance(body, str) else body
    response = client.post("/api/credit/imports", headers=auth_header("office-admin"),
                           data={"file": (io.BytesIO(raw), "export.csv")}, content_type="multipart/form-data")
    assert response.status_code == 202, response.json
    for _ in range(600):
        progress = client.get(f"/api/credit/imports/{response.json['id']}", headers=auth_header("office-admin")).json
        if progress["status"] not in {"pending", "running"}:
            break
        time.sleep(0.05)
    return progress
