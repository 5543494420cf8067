"""docs/openapi.json is the document the app generates from its schemas, never a hand-kept copy."""
from __future__ import annotations

import json
from pathlib import Path

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
