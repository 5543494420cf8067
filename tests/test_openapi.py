"""docs/openapi.json is the document the app generates from its schemas, never a hand-kept copy."""
from __future__ import annotations

import json
import re
from pathlib import Path

from backend.errors import ErrorCode
from backend.openapi import RAISES

DOC = Path(__file__).resolve().parents[1] / "docs" / "openapi.json"


def test_committed_openapi_document_matches_the_code(app):
    with app.app_context():
        generated = app.spec
    committed = json.loads(DOC.read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(generated)), (
        "docs/openapi.json is stale: run `DEMO=1 FLASK_APP=wsgi flask spec -f json -o docs/openapi.json`")


def test_every_contract_route_is_documented(client):
    paths = client.get("/api/openapi.json").json["paths"]
    for path in ("/api/health", "/api/pass/keys", "/api/pass", "/api/redemptions", "/api/partners",
                 "/api/office/stats"):
        assert path in paths, path
    problem = paths["/api/redemptions"]["post"]
    assert "201" in problem["responses"]


def test_every_error_answer_is_documented_as_a_problem_with_its_codes(client):
    document = client.get("/api/openapi.json").json
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"status", "code", "message"}
    assert problem["properties"]["code"]["enum"] == [code.value for code in ErrorCode]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            errors = {status: response for status, response in operation["responses"].items() if status[0] in "45"}
            assert "500" in errors, (method, path)
            if operation.get("security"):
                assert {"401", "403"} <= set(errors), (method, path)
            for status, response in errors.items():
                assert response["content"]["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
                # each status names the codes it carries, and each of those codes has that status
                named = re.findall(r"`([a-z_]+)`", response["description"])
                assert named and all(ErrorCode(name).status == int(status) for name in named), (method, path, status)


def test_an_operation_lists_the_refusals_of_its_service(client):
    responses = client.get("/api/openapi.json").json["paths"]["/api/redemptions"]["post"]["responses"]
    assert "`pass_already_used`" in responses["409"]["description"]
    assert "`pass_expired`" in responses["410"]["description"]
    assert "`tier_not_eligible`" in responses["403"]["description"]
    assert responses["200"]["content"] == responses["201"]["content"]  # the same client_id again


def test_the_refusal_table_names_real_endpoints(app):
    assert set(RAISES) <= set(app.view_functions)


def test_every_rate_limited_route_documents_its_429(app, client):
    """A route with its own limiter.limit answers 429 rate_limited once its limit is spent: the document says so."""
    from flask_limiter.util import get_qualified_name

    from backend.extensions import limiter

    paths = client.get("/api/openapi.json").json["paths"]
    limited = []
    for rule in app.url_map.iter_rules():
        if get_qualified_name(app.view_functions[rule.endpoint]) not in limiter.limit_manager._decorated_limits:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            limited.append(rule.endpoint)
            responses = paths[path][method.lower()]["responses"]
            assert "rate_limited" in json.dumps(responses.get("429", {})), (rule.endpoint, "429 not documented")
    assert "pass.issue_short_code" in limited and len(limited) >= 9
    # The redemption limits failed short-code look-ups in its view (auth/limits.failures_counted), not by decorator.
    redeem = paths["/api/redemptions"]["post"]["responses"]
    assert "rate_limited" in json.dumps(redeem["429"])
