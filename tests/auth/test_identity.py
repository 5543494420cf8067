"""Identity binding: keyed-hash match, checksum, one identity per account, no oracle, no plaintext, rate limit."""
from __future__ import annotations

import logging

from sqlalchemy import select

from backend.auth.models import CitizenAccount
from backend.credit.identifiers import id_number_check_char
from backend.extensions import db
from backend.audit import AuditEntry

DEMO_COMPANY_USCC = "91231184MA1BXYM00T"


def bind(client, headers, name="张三", id_number=""):
    return client.post("/api/auth/identity", headers=headers, json={"name": name, "id_number": id_number})


def test_binding_a_known_person_lets_them_get_a_pass(client, new_citizen, new_person):
    _, headers = new_citizen()
    assert client.post("/api/pass", headers=headers, json={}).json["code"] == "holder_not_bound"
    bound = bind(client, headers, id_number=new_person())
    assert bound.status_code == 200 and bound.json["identity_bound"] is True
    assert client.post("/api/pass", headers=headers, json={}).status_code == 201
    assert client.get("/api/auth/me", headers=headers).json["identity_bound"] is True


def test_lowercase_x_and_spaces_are_normalised(client, new_citizen, new_person):
    number = new_person()
    _, headers = new_citizen()
    assert bind(client, headers, name=" 李 四 ", id_number=f" {number.lower()} ").status_code == 200


def test_checksum_and_name_are_validated_first(client, new_citizen, new_person):
    _, headers = new_citizen()
    number = new_person()
    wrong_check = number[:17] + ("0" if number[17] != "0" else "1")
    assert bind(client, headers, id_number=wrong_check).json["code"] == "id_number_invalid"
    assert bind(client, headers, id_number="12345").json["code"] == "id_number_invalid"
    assert bind(client, headers, name="<script>", id_number=number).json["code"] == "name_invalid"
    assert bind(client, headers, name="", id_number=number).status_code == 422


def test_unknown_bound_elsewhere_and_company_all_look_the_same(client, new_citizen, new_person):
    """The refusal must not tell whether an ID number exists: same status, code and message."""
    taken = new_person()
    _, owner = new_citizen()
    assert bind(client, owner, id_number=taken).status_code == 200
    _, intruder = new_citizen()
    first17 = "11010119000101999"
    unknown = first17 + id_number_check_char(first17)
    answers = [bind(client, intruder, id_number=number) for number in (unknown, taken)]
    assert all(a.status_code == 400 for a in answers)
    assert len({(a.json["code"], a.json["message"]) for a in answers}) == 1
    assert answers[0].json["code"] == "identity_mismatch"
    assert set(answers[0].json) == {"status", "code", "message"}


def test_one_identity_per_account_and_rebinding_the_same_is_harmless(client, new_citizen, new_person):
    _, headers = new_citizen()
    mine, other = new_person(), new_person()
    assert bind(client, headers, id_number=mine).status_code == 200
    assert bind(client, headers, id_number=mine).status_code == 200
    refused = bind(client, headers, id_number=other)
    assert refused.status_code == 409 and refused.json["code"] == "identity_already_bound"


def test_plaintext_is_never_stored_nor_logged(app, client, new_citizen, new_person, caplog):
    for name in ("backend.auth.citizens", "backend.auth.views"):
        logging.getLogger(name).disabled = False
    number = new_person()
    account_id, headers = new_citizen()
    with caplog.at_level("DEBUG"):
        bind(client, headers, name="王小明", id_number=number)
        bind(client, new_citizen()[1], name="王小明", id_number=number)
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert number not in logged and "王小明" not in logged
    with app.app_context():
        row = db.session.execute(select(CitizenAccount.__table__).where(CitizenAccount.id == account_id)).one()
        audit = " ".join(str(e.detail) for e in db.session.scalars(select(AuditEntry)))
    assert number not in str(tuple(row)) and "王小明" not in str(tuple(row)) and number not in audit
    assert row.identity_name_hash and len(row.identity_name_hash) == 64


def test_binding_is_rate_limited_per_account(client, new_citizen):
    _, headers = new_citizen()
    first17 = "11010119000101998"
    unknown = first17 + id_number_check_char(first17)
    statuses = [bind(client, headers, id_number=unknown).status_code for _ in range(6)]
    assert statuses[:5] == [400] * 5 and statuses[5] == 429


def test_a_companys_code_is_not_a_person(client, new_citizen):
    _, headers = new_citizen()
    # A USCC is not an ID number at all: refused by shape before any lookup.
    assert bind(client, headers, id_number=DEMO_COMPANY_USCC).json["code"] == "id_number_invalid"
