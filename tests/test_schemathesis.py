"""The OpenAPI document tells the truth: Schemathesis generates requests from it, as each demo role,
and every answer must be no server error, of a documented status and content type, and fit the
documented schema (issue 14, item 14).

It runs in-process (WSGI) against an app of its own, on a fresh database of TEST_DB's kind seeded with
the demo city: generated requests create partners, change perks and end sessions, which must not leak
into the other tests' shared app. Examples are bounded and the seed is fixed, so a run is repeatable.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone

import hypothesis
import pytest
import schemathesis
from flask_migrate import upgrade
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from backend import create_app

from . import conftest
from .auth.fake_wechat import APPID, OA_APPID, OA_SECRET, SECRET, FakeWeChat

# Hypothesis warns when the global `random` module is used while it generates a case, and names the
# strategy; here the user is the app's own Redis client, whose retry after a timeout sleeps a jittered
# backoff (redis.backoff uses `random`) in a request or the change feed's thread. That is the app's
# randomness, not the cases' (their seed is fixed), so the warning says nothing about this test.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Do not use the `random` module inside strategies:hypothesis.errors.HypothesisDeprecationWarning")

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
SEED = 20260401
# Examples per operation and role, of valid and of invalid requests: bounded so that the whole run
# stays within about a minute per database.
EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 4, schemathesis.GenerationMode.NEGATIVE: 2}

# demo role (`flask demo token ROLE`) -> the role its token carries; None: no token at all; "device":
# the scanner enrolled at the demo merchant before the run (before merchant-admin, who may revoke it).
ROLES = {
    None: None, "citizen": "citizen", "company": "citizen", "citizen-blacklisted": "citizen",
    "cashier": "cashier", "device": "device", "merchant-admin": "merchant_admin",
    "office-admin": "office_admin", "office-analyst": "office_analyst", "office-auditor": "office_auditor",
}


@dataclass
class Api:
    app: object
    schema: schemathesis.schemas.BaseSchema
    device_token: str = ""

    def token(self, demo_role: str) -> str:
        if demo_role == "device":
            return self.device_token
        result = self.app.test_cli_runner().invoke(args=["demo", "token", demo_role])
        assert result.exit_code == 0, result.output
        return result.stdout.strip()


@pytest.fixture(scope="module")
def api(tmp_path_factory, redis_url, redis_prefix):
    with conftest.fresh_database(tmp_path_factory, "schemathesis") as url, FakeWeChat() as wechat:
        app = create_app({**conftest.test_config(url, redis_url, redis_prefix + "st:"),
                          "WECHAT_API_BASE": wechat.base_url, "WECHAT_APPID": APPID, "WECHAT_SECRET": SECRET,
                          # the 公众号 sign-in too (unset, its routes answer 503 wechat_unavailable by design)
                          "WECHAT_OPEN_BASE": wechat.base_url, "WECHAT_OA_APPID": OA_APPID, "WECHAT_OA_SECRET": OA_SECRET})
        try:
            with app.app_context():
                upgrade()
                assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
            api = Api(app, schemathesis.openapi.from_wsgi("/api/openapi.json", app))
            _some_activity(api)
            yield api
        finally:
            conftest.dispose(app)


def _some_activity(api: Api) -> None:
    """Rows in every list the roles read (redemptions, a voided one, refusals, a device), so that the
    answers are checked against their schemas with real items in them, not only empty lists."""
    client = api.app.test_client()

    def as_(demo_role: str) -> dict:
        return {"Authorization": f"Bearer {api.token(demo_role)}"}

    pass_token = client.post("/api/pass", headers=as_("citizen"), json={}).json["token"]
    partner = client.get("/api/merchant/me", headers=as_("cashier")).json["partner"]
    perk_id = partner["perks"][0]["id"]

    def redeem(token: str) -> dict:
        body = {"token": token, "perk_id": perk_id, "client_id": str(uuid.uuid4()), "amount_fen": 12345,
                "scanned_at": datetime.now(timezone.utc).isoformat()}
        return client.post("/api/redemptions", headers=as_("cashier"), json=body)

    first = redeem(pass_token)
    assert first.status_code == 201, first.json
    assert redeem(pass_token).json["code"] == "pass_already_used"  # a refusal of a verified pass
    assert redeem("XYM:NOT-A-PASS").json["code"] == "pass_invalid"  # and of one that is not a pass
    second = redeem(client.post("/api/pass", headers=as_("citizen"), json={}).json["token"])
    voided = client.post(f"/api/redemptions/{second.json['id']}/void", headers=as_("cashier"), json={"reason": "点错"})
    assert voided.status_code == 200, voided.json
    code = client.post("/api/merchant/enrolments", headers=as_("merchant-admin")).json["code"]
    enrolled = client.post("/api/devices/enrol", json={"code": code, "name": "收银台 2"})
    assert enrolled.status_code == 201, enrolled.json
    api.device_token = enrolled.json["device_token"]


def _guarded(operation) -> bool:
    return bool(operation.definition.raw.get("security"))


def _allowed(operation, role: str | None) -> bool:
    """An anonymous caller tries every operation (its 401 is part of the truth); a role tries its own.
    The device does not log out: that un-enrols it, and every case after it would only meet 401. No
    demo citizen deletes their account (tests/auth/test_privacy.py does, with accounts of its own)."""
    if role == "device" and operation.label == "POST /api/auth/logout":
        return False
    if role is not None and operation.label == "DELETE /api/auth/account":
        return False
    security = operation.definition.raw.get("security") or []
    return role is None or any(role in roles for requirement in security for roles in requirement.values())


@pytest.mark.slow
@pytest.mark.parametrize("demo_role", list(ROLES), ids=lambda role: role or "anonymous")
def test_every_answer_is_what_the_openapi_document_says(api, demo_role):
    role = ROLES[demo_role]
    operations = [result.ok() for result in api.schema.get_all_operations()]
    operations = [operation for operation in operations if _allowed(operation, role)]
    assert operations
    failures, statuses = [], []
    for operation in operations:
        for mode, examples in EXAMPLES.items():
            if role is None and _guarded(operation):  # one request shows the 401; the body is never read
                examples = 1 if mode is schemathesis.GenerationMode.POSITIVE else 0
            if not examples:
                continue
            try:
                _explore(api, operation, demo_role, mode, examples, statuses)
            except hypothesis.errors.Unsatisfiable:
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label  # nothing to get wrong
            except (AssertionError, FailureGroup) as error:  # keep going, report every operation at once
                failures.append(f"{operation.label} ({mode.value}): {_describe(error)}")
    assert not failures, "\n\n".join(failures)
    if role:  # the token worked: the role's requests got past the bearer check
        assert [status for status in statuses if status != 401], demo_role


def _explore(api: Api, operation, demo_role: str | None, mode, examples: int, statuses: list[int]) -> None:
    # Every path id is generated, beyond 64 bits too: backend/inputs.py's converter answers those 404.
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
                         suppress_health_check=list(HealthCheck))
    @hypothesis.seed(SEED)
    def check(case):
        # A fresh token per request: a generated logout (or a revocation) must not end the next case's session.
        headers = {"Authorization": f"Bearer {api.token(demo_role)}"} if demo_role else {}
        statuses.append(case.call_and_validate(headers=headers, checks=CHECKS).status_code)

    check()


def _describe(error: BaseException) -> str:
    parts = error.exceptions if isinstance(error, BaseExceptionGroup) else [error]
    return "\n".join(f"{type(part).__name__}: {str(part)[:1200]}" for part in parts)
