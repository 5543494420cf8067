"""JSON answers of the hot endpoints, sent as built.

APIFlask passes an answer through its `@output` schema (marshmallow dump, then JSON). For issuing
and redeeming, whose bodies are built field for field to their schema, that second pass cost more
than signing a pass; they return `schema_json(...)` instead and keep `@output` for the OpenAPI
document. Tests load each such answer with its schema, so a drift between the two fails.
"""
from __future__ import annotations

from flask import Response, jsonify


def schema_json(body: dict, status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response
