"""JSON answers of the hot endpoints, sent as built.

APIFlask passes an answer through its `@output` schema (marshmallow dump, then JSON). For issuing
and redeeming, whose bodies are built field for field to their schema, that second pass cost more
than signing a pass; they return `schema_json(...)` instead and keep `@output` for the OpenAPI
document. Tests load each such answer with its schema, so a drift between the two fails.
"""
from __future__ import annotations

import json

from flask import Response

# The text jsonify writes with this app's settings (compact, ensure_ascii and sort_keys off: see
# backend/__init__.py), from one encoder: json.dumps with options builds a new encoder per call.
# The bodies hold only JSON's own types; anything else is a bug and raises.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def schema_json(body: dict, status: int = 200) -> Response:
    return Response(f"{_encode(body)}\n", status=status, mimetype="application/json")
