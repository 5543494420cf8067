"""Requests as an attacker or a careless client sends them (issue 14): raw bodies, wrong media types,
unstorable characters, ids beyond every column, expired tokens. Each is refused with its documented
status and code, as problem+json, and leaves every table as it was.
"""
from __future__ import annotations

import io
import json
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone

import pytest
import redis
from sqlalchemy import func, select

from backend.auth.service import Principal, issue_access_token
from backend.extensions import db, limiter

BIGINT_MAX = 2**63 - 1
BEYOND_IDS = (str(2**63), str(2**64), str(10**30), "9" * 5000)  # as text: Python refuses int("9" * 5000)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(app, redis_url, redis_prefix):
    """Many sign-in probes from one address: start every test with untouched limits."""
    limiter.init_app(app)  # another test's make_app() may have rebound the shared limiter
    yield
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"*{redis_prefix}rl*", count=1000):
        client.delete(key)


@pytest.fixture
def headers(auth_header):
    """headers(role) -> bearer header of that demo role (None: no header), made once per test."""
    made = {None: {}}

    def _headers(role):
        if role not in made:
            made[role] = auth_header(role)
        return made[role]

    return _headers


# When the server last heard from a scanner (backend/auth/contacts.py) is written for any of its
# requests, refused or not, at most once a minute: it is the server's record of the scanner being
# online, not something the request asked to change.
PRESENCE_TABLES = {"contact_spells"}


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        counts = {table.name: db.session.scalar(select(func.count()).select_from(table))
                  for table in db.metadata.sorted_tables if table.name not in PRESENCE_TABLES}
        db.session.remove()
    return counts


@contextmanager
def nothing_written(app):
    before = row_counts(app)
    yield
    assert row_counts(app) == before


def refused(response, status: int, code: str, probe=None) -> None:
    assert (response.status_code, response.get_json(silent=True) and response.json.get("code")) == (status, code), \
        (probe, response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/problem+json", probe
    assert response.json["status"] == status and response.json["message"], probe


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


# Every route that takes a JSON body and runs without a row of the test's own: its method, path, the
# demo role that may call it, and a body whose field "@" the probe fills.
JSON_ROUTES = [
    ("/api/auth/sms/send", None, {"phone": "@"}),
    ("/api/auth/sms/login", None, {"phone": "13700000000", "code": "@"}),
    ("/api/auth/staff/login", None, {"username": "@", "password": "p"}),
    ("/api/auth/office/login", None, {"username": "@", "password": "p"}),
    ("/api/auth/wechat/login", None, {"code": "@"}),
    ("/api/auth/refresh", None, {"refresh_token": "@"}),
    ("/api/devices/enrol", None, {"code": "@"}),
    ("/api/auth/identity", "citizen", {"name": "@", "id_number": "110101199003070017"}),
    ("/api/pass/verify", "cashier", {"token": "@"}),
    ("/api/redemptions", "cashier", {"token": "@", "perk_id": 1, "client_id": "8c1c7a4e-1f7e-4bb6-9c1e-1b0b4f1d2a3c",
                                     "scanned_at": "2026-01-01T00:00:00+08:00"}),
    ("/api/merchant/staff", "merchant-admin", {"username": "@", "password": "0123456789ab"}),
    ("/api/office/scenarios", "office-admin", {"code": "@", "name": "测试"}),
    ("/api/office/partners", "office-admin", {"name": "@", "scenario_code": "dining"}),
    ("/api/office/representatives", "office-admin", {"uscc": "@", "id_number": "110101199003070017"}),
]


def body_with(template: dict, fragment: bytes) -> bytes:
    """The template as JSON text, its "@" replaced by a raw JSON fragment (which json.dumps cannot write)."""
    return json.dumps(template).encode().replace(b'"@"', fragment)


def test_json_nested_100000_deep_is_a_400_validation_error_not_a_recursion(app, client, headers):
    deep = b"[" * 100_000 + b"]" * 100_000
    for path, role, template in JSON_ROUTES:
        for raw in (deep, body_with(template, deep), body_with(template, b"[" * 40 + b"]" * 40)):
            with nothing_written(app):
                response = client.post(path, data=raw, content_type="application/json", headers=headers(role))
            refused(response, 400, "validation_error", (path, raw[:50]))


def test_a_lone_surrogate_or_nul_in_any_string_is_a_422_on_both_databases(app, client, headers):
    fragments = [
        b'"\\ud800"',  # a lone high surrogate, as a JSON escape
        b'"ok\\udfffok"',  # a lone low surrogate inside text
        b'"\xed\xa0\x80"',  # the same surrogate as raw (CESU-style) UTF-8 bytes
        b'"a\\u0000b"',  # NUL: PostgreSQL's text cannot hold it; SQLite is held to the same rule
        b'["fine", {"deeper": "\\ud83d"}]',  # inside a list and an object
    ]
    for path, role, template in JSON_ROUTES:
        for fragment in fragments:
            with nothing_written(app):
                response = client.post(path, data=body_with(template, fragment), content_type="application/json",
                                       headers=headers(role))
            refused(response, 422, "validation_error", (path, fragment))
        # in a key, too
        with nothing_written(app):
            raw = json.dumps(template).encode()[:-1] + b', "\\u0000": 1}'
            response = client.post(path, data=raw, content_type="application/json", headers=headers(role))
        refused(response, 422, "validation_error", (path, "key"))


def test_the_character_check_reads_every_encoding_and_lets_real_text_through(app, client):
    utf16 = '{"username": "\ud800", "password": "p"}'.encode("utf-16", "surrogatepass")  # the parser reads UTF-16 too
    with nothing_written(app):
        response = client.post("/api/auth/staff/login", data=utf16, content_type="application/json")
    refused(response, 422, "validation_error")
    # JSON text: an escaped valid pair (an emoji), escaped backslashes before "u", and plain text
    for text in (rb"\ud83d\ude00", rb"\\ud800 \\u0000", "张三·é".encode()):
        raw = b'{"username": "' + text + b'", "password": "wrong password"}'
        with nothing_written(app):
            response = client.post("/api/auth/staff/login", data=raw, content_type="application/json")
        refused(response, 401, "invalid_credentials", text)


def test_a_nul_in_a_query_or_a_path_is_a_422(app, client, headers):
    for url, role in (("/api/office/failed-attempts?code=%00", "office-admin"),
                      ("/api/office/stats?group_by=scenario%00", "office-analyst"),
                      ("/api/office/calendars/major%00holidays", "office-admin"),
                      ("/api/redemptions?day=2026-01-01%00", "cashier")):
        with nothing_written(app):
            response = client.get(url, headers=headers(role))
        refused(response, 422, "validation_error", url)


def test_a_body_beyond_max_content_length_is_413_before_it_is_parsed(app, client, headers):
    ten_mb = b'{"phone": "' + b"1" * (10 << 20) + b'"}'
    for path, role in (("/api/auth/sms/send", None), ("/api/auth/staff/login", None), ("/api/redemptions", "cashier"),
                       ("/api/office/partners", "office-admin")):
        with nothing_written(app):
            response = client.post(path, data=ten_mb, content_type="application/json", headers=headers(role))
        refused(response, 413, "payload_too_large", path)
    with nothing_written(app):  # whatever its media type
        response = client.post("/api/redemptions", data=ten_mb, content_type="text/plain", headers=headers("cashier"))
    refused(response, 413, "payload_too_large")


def test_the_credit_upload_has_its_own_bound_and_json_keeps_max_content_length(app, client, headers):
    csv = ("kind,identifier,score,rating,tax_grade,red_list,black_list,updated_at\n"
           + "person,NOT-AN-ID,1100,,,0,0,2026-11-20\n" * 100).encode()  # ~4 KB, every row rejected
    saved = app.config["MAX_CONTENT_LENGTH"], app.config["IMPORT_MAX_BYTES"]
    app.config.update(MAX_CONTENT_LENGTH=1024, IMPORT_MAX_BYTES=len(csv) + 1024)
    try:
        with nothing_written(app):
            json_body = client.post("/api/office/partners", json={"name": "x" * 2000, "scenario_code": "dining"},
                                    headers=headers("office-admin"))
        refused(json_body, 413, "payload_too_large")
        upload = client.post("/api/credit/imports", data={"file": (io.BytesIO(csv), "export.csv")},
                             content_type="multipart/form-data", headers=headers("office-admin"))
        assert upload.status_code == 202, upload.json
        app.config["IMPORT_MAX_BYTES"] = len(csv) // 2
        with nothing_written(app):
            too_big = client.post("/api/credit/imports", data={"file": (io.BytesIO(csv), "export.csv")},
                                  content_type="multipart/form-data", headers=headers("office-admin"))
        refused(too_big, 413, "payload_too_large")
    finally:
        app.config["MAX_CONTENT_LENGTH"], app.config["IMPORT_MAX_BYTES"] = saved
    for _ in range(200):  # let the background import finish before the tables are cleaned
        job = client.get(f"/api/credit/imports/{upload.json['id']}", headers=headers("office-admin")).json
        if job["status"] in ("done", "failed"):
            break
        __import__("time").sleep(0.05)
    assert job["status"] == "done" and job["rejected_rows"] == 100


# -- integer ids beyond the columns' range -------------------------------------------------------

ID_PATHS = [
    ("post", "/api/redemptions/{}/void", "cashier", {}),
    ("post", "/api/office/redemptions/{}/void", "office-admin", {"reason": "误操作"}),
    ("patch", "/api/office/partners/{}", "office-admin", {"name": "改名"}),
    ("post", "/api/office/partners/{}/perks", "office-admin", {"kind": "green_channel", "title": "绿色通道",
                                                               "holder_kinds": ["person"], "min_tier": "basic"}),
    ("patch", "/api/office/perks/{}", "office-admin", {"title": "改名"}),
    ("post", "/api/office/partners/{}/staff", "office-admin", {"username": "probe-user", "password": "0123456789ab"}),
    ("get", "/api/credit/imports/{}", "office-admin", None),
    ("post", "/api/merchant/devices/{}/revoke", "merchant-admin", None),
    ("post", "/api/office/representatives/{}/revoke", "office-admin", None),
    ("post", "/api/office/redemption-conflicts/{}/resolve", "office-admin", {"resolution": "已核实"}),
]


def test_ids_beyond_the_columns_in_paths_are_404(app, client, headers):
    for method, path, role, body in ID_PATHS:
        for number in (*BEYOND_IDS, BIGINT_MAX):  # the largest id is in range: no such row, also 404
            with nothing_written(app):
                response = getattr(client, method)(path.format(number), json=body, headers=headers(role))
            refused(response, 404, "not_found", (path, str(number)[:30]))


def demo_perk_id(client) -> int:
    partners = client.get("/api/partners").json["partners"]
    return next(p for p in partners if p["name"] == "辣盆盆小龙虾饭店")["perks"][0]["id"]


def test_ids_beyond_the_columns_in_bodies_and_queries_are_422(app, client, headers):
    redemption = {"token": "XYM:NOTAPASS", "client_id": str(uuid.uuid4()), "scanned_at": now_iso(), "amount_fen": 100}
    for perk_id in (*map(int, BEYOND_IDS[:3]), 2**31, 0, -1):  # failed_attempts.perk_id, where a refusal lands, is 32-bit
        with nothing_written(app):
            response = client.post("/api/redemptions", json={**redemption, "perk_id": perk_id},
                                   headers=headers("cashier"))
        refused(response, 422, "validation_error", perk_id)
        assert list(response.json["errors"]["json"]) == ["perk_id"]
    for url, role in (("/api/redemptions?perk_id={}", "cashier"), ("/api/office/failed-attempts?partner_id={}", "office-admin")):
        for number in BEYOND_IDS:
            with nothing_written(app):
                response = client.get(url.format(number), headers=headers(role))
            refused(response, 422, "validation_error", url)
    partner = next(p for p in client.get("/api/office/partners", headers=headers("office-admin")).json["partners"]
                   if p["name"] == "辣盆盆小龙虾饭店")
    perk = {"kind": "discount", "title": "探测", "discount_permille": 980, "holder_kinds": ["person"], "min_tier": "basic"}
    for change in ({"max_discount_fen": 2**31}, {"discount_permille": 2**40}, {"limit_per_holder_per_day": 2**63},
                   {"kind": "extra_quota", "discount_permille": None, "quota_by_tier": {"basic": 2**31}}):
        with nothing_written(app):
            response = client.post(f"/api/office/partners/{partner['id']}/perks", json={**perk, **change},
                                   headers=headers("office-admin"))
        refused(response, 422, "validation_error", change)
        with nothing_written(app):
            response = client.patch(f"/api/office/perks/{partner['perks'][0]['id']}", json=change,
                                    headers=headers("office-admin"))
        refused(response, 422, "validation_error", change)


# Every route that filters by a range of days (backend/timeutil.check_day_range), with its role.
DAY_RANGE_ROUTES = (("/api/office/stats?group=scenario&", "office-admin"),
                    ("/api/office/stats.csv?group=scenario&", "office-admin"),
                    ("/api/office/audit?", "office-admin"), ("/api/office/audit.csv?", "office-admin"),
                    ("/api/office/cases/export?", "office-admin"), ("/api/office/failed-attempts?", "office-admin"),
                    ("/api/office/offline-share?", "office-admin"))


@pytest.mark.parametrize("far, field", [
    ("from=0001-01-01&to=2026-01-01", "from"), ("from=2026-01-01&to=9999-12-31", "to"),
    ("from=0001-01-01&to=0001-01-01", "from"), ("from=9999-12-31&to=9999-12-31", "from"),
    ("from=1999-12-31&to=2026-01-01", "from"), ("from=2026-01-01&to=2100-01-01", "to")])
def test_days_outside_the_products_years_are_a_422_on_every_range_filter(app, client, headers, far, field):
    for route, role in DAY_RANGE_ROUTES:
        response = client.get(route + far, headers=headers(role))
        refused(response, 422, "validation_error", route)
        assert (response.json["field"], response.json["message"]) == (field, "日期须在 2000-01-01 至 2099-12-31 之间")
    for route, role in DAY_RANGE_ROUTES:  # the edges themselves are days like any other
        assert client.get(route + "from=2000-01-01&to=2099-12-31", headers=headers(role)).status_code == 200, route


# -- media types ------------------------------------------------------------------------------------

def test_a_redemption_sent_as_anything_but_json_is_415_and_not_recorded(app, client, headers):
    perk_id = demo_perk_id(client)
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                         "application/xml", None):
        token = client.post("/api/pass", json={}, headers=headers("citizen")).json["token"]
        raw = json.dumps({"token": token, "perk_id": perk_id, "client_id": str(uuid.uuid4()),
                          "scanned_at": now_iso(), "amount_fen": 10000}).encode()
        with nothing_written(app):
            response = client.post("/api/redemptions", data=raw, headers={**headers("cashier"),
                                   **({"Content-Type": content_type} if content_type else {})})
        refused(response, 415, "unsupported_media_type", content_type)
    # the same body as JSON is recorded: the refusal was the media type alone
    token = client.post("/api/pass", json={}, headers=headers("citizen")).json["token"]
    fine = client.post("/api/redemptions", data=json.dumps({"token": token, "perk_id": perk_id,
                       "client_id": str(uuid.uuid4()), "scanned_at": now_iso(), "amount_fen": 10000}),
                       content_type="application/json; charset=utf-8", headers=headers("cashier"))
    assert fine.status_code == 201, fine.json


def test_every_json_route_refuses_another_media_type_with_415(app, client, headers):
    for path, role, template in JSON_ROUTES:
        form = {key: "x" if value == "@" else value for key, value in template.items() if not isinstance(value, int)}
        for kwargs in ({"data": form},  # a form post, as an HTML form or a careless script sends it
                       {"data": json.dumps(template), "content_type": "text/plain"}):
            with nothing_written(app):
                response = client.post(path, headers=headers(role), **kwargs)
            refused(response, 415, "unsupported_media_type", (path, kwargs))


def test_a_json_route_without_a_body_is_left_to_its_schema(client, headers):
    response = client.post("/api/auth/sms/send")
    refused(response, 422, "validation_error")
    # A pydantic input (issuing, redemption) reads an empty body as {} too, whatever its media type:
    # the pass needs no field, so one is issued; a redemption lists what it misses.
    for content_type in ("application/json", "text/plain", None):
        extra = {"Content-Type": content_type} if content_type else {}
        issued = client.post("/api/pass", data=b"", headers={**headers("citizen"), **extra})
        assert issued.status_code == 201 and issued.json["holder_kind"] == "person", (content_type, issued.json)
    missing = client.post("/api/redemptions", data=b"", headers={**headers("cashier"), "Content-Type": "application/json"})
    refused(missing, 422, "validation_error")
    assert {"token", "perk_id", "client_id", "scanned_at"} <= set(missing.json["errors"]["json"]), missing.json


def test_a_json_body_that_is_no_object_is_refused_alike_by_every_route(app, client, headers):
    # marshmallow (office, sign-in) and pydantic (issuing, redemption) inputs give one answer: pydantic
    # alone would have read `null` as an empty object and issued a pass.
    routes = [("/api/pass", "citizen"), *((path, role) for path, role, _ in JSON_ROUTES)]
    for path, role in routes:
        for raw in (b"null", b"[]", b"[{}]", b'"x"', b"1", b"true"):
            with nothing_written(app):
                response = client.post(path, data=raw, headers={**headers(role),
                                                                "Content-Type": "application/json"})
            refused(response, 422, "validation_error", (path, raw))
            assert response.json["errors"] == {"json": {"_schema": ["Invalid input type."]}}, (path, raw)


# -- expired tokens ---------------------------------------------------------------------------------

def test_an_expired_access_token_answers_token_expired(app, client, headers):
    principals = [(Principal(kind="citizen", id=1, role="citizen"), "get", "/api/auth/me", None),
                  (Principal(kind="staff", id=1, role="cashier", partner_id=1), "post", "/api/redemptions",
                   {"token": "XYM:X", "perk_id": 1, "client_id": str(uuid.uuid4()), "scanned_at": now_iso()}),
                  (Principal(kind="office", id=1, role="office_admin"), "get", "/api/office/partners", None)]
    for principal, method, path, body in principals:
        expired = issue_access_token(secret=app.config["SECRET_KEY"], principal=principal, minutes=-1)
        with nothing_written(app):
            response = getattr(client, method)(path, json=body, headers={"Authorization": f"Bearer {expired}"})
        refused(response, 401, "token_expired", path)
        forged = expired[:-2] + ("AA" if not expired.endswith("AA") else "BB")
        refused(getattr(client, method)(path, json=body, headers={"Authorization": f"Bearer {forged}"}),
                401, "unauthorized", path)
