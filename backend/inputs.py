"""What every request must be before a rate limit, a schema or a service reads it: one layer for
the whole API, so that no route can forget a rule.

- A body is at most `MAX_CONTENT_LENGTH` bytes (Flask's setting; Werkzeug refuses a longer one with
  413 `payload_too_large` as soon as anything reads it, and the hook below reads every JSON body).
- A route that declares a JSON body refuses a body of any other media type with 415
  `unsupported_media_type`, before anything parses it: the redemption's pydantic adapter would
  otherwise read any text as JSON. A request without a body is left to the route's schema.
- That JSON body is parsed here, once (Flask caches it for the pydantic adapter and the rate limits'
  key functions), and refused with 422 `validation_error` when it is not a JSON object (every body
  of the API is one: marshmallow answered so for its schemas, and pydantic's adapter would read
  `null` as `{}`), with 400 `validation_error` when nested deeper than `MAX_JSON_DEPTH`
  (the parser recurses: 100,000 brackets were a RecursionError and a 500), and with 422
  `validation_error` when any string or key holds a lone surrogate (no text encoding can store it)
  or NUL (PostgreSQL's text cannot hold it; refused on SQLite too, so both databases answer alike).
  Query and path strings are held to the NUL rule too (they are decoded with replacement, so they
  can carry no surrogate).
- An empty body is no document rather than a malformed one (`ApiRequest`): the route's schema
  judges it as `{}`, as webargs did for marshmallow schemas (`POST /api/pass` with no body issues
  the holder's default pass; a redemption lists its missing fields).
- `<int:...>` in a route is always a row id: `IdConverter` bounds it to the id columns' signed 64-bit
  range, so a larger number matches no route (404) instead of reaching the database. Bodies and
  queries bound their integers with `Id` and `Int32`, sized to the columns they reach (422).
"""
from __future__ import annotations

import re

from apiflask.fields import Integer
from apiflask.validators import Range
from flask import Flask, Request, current_app, request
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.routing import IntegerConverter

from .errors import ErrorCode, problem

BIGINT_MAX = 2**63 - 1  # every id column is a signed 64-bit BIGINT (SQLite's INTEGER is the same)
INT32_MAX = 2**31 - 1  # counts, per-mille and fen columns are a signed 32-bit INTEGER
MAX_JSON_DEPTH = 32  # our deepest body (a perk's quota_by_tier) is two levels
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Bytes without which no string of a body can hold a surrogate or NUL: an escape (`\ud800`,
# `\u0000`), the lead byte of a surrogate's raw UTF-8, a NUL byte (UTF-16 and UTF-32 bodies, which
# the parser also reads, are full of them).
_MAYBE_UNSTORABLE = (b"\\u", b"\xed", b"\x00")
# marshmallow's words for a body that is no object, kept so that every route answers them alike
_NOT_AN_OBJECT = {"json": {"_schema": ["Invalid input type."]}}


def init_app(app: Flask) -> None:
    """Call before the extensions and blueprints: the hook must run before Flask-Limiter's (whose key
    functions read the body) and the converter must be known when the routes are added."""
    app.url_map.converters["int"] = IdConverter
    app.request_class = ApiRequest
    app.before_request(_check_request)


class ApiRequest(Request):
    def on_json_loading_failed(self, e: ValueError | None):
        # Asked for JSON (pydantic's adapter forces it) of an empty body: there is no document.
        if e is not None and not self.get_data(cache=True):
            return None
        return super().on_json_loading_failed(e)


class IdConverter(IntegerConverter):
    """`<int:...>`, bounded to the id columns' range: a larger id names no row, so no route (404)."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = BIGINT_MAX,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


class Id(Integer):
    """A row id in a body or query: 1 up to the id columns' largest value (422 beyond it)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(validate=Range(min=1, max=BIGINT_MAX), **kwargs)


class Int32(Integer):
    """An integer bound for a 32-bit INTEGER column (422 beyond its range rather than a database error)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(validate=Range(min=-INT32_MAX - 1, max=INT32_MAX), **kwargs)


def _check_request():
    req = request._get_current_object()  # once: each look-up of the proxy costs as much as a check
    if req.query_string and any(map(_has_nul, req.args.items(multi=True))):
        return _refuse(422, "查询参数含有无法处理的字符")
    if req.view_args and any(isinstance(v, str) and "\x00" in v for v in req.view_args.values()):
        return _refuse(422, "地址含有无法处理的字符")
    if not _takes_json(req.endpoint) or not (raw := req.get_data(cache=True)):
        return None
    if not req.is_json:
        raise UnsupportedMediaType()
    try:
        document = req.get_json()
    except RecursionError:
        return _refuse(400, "请求内容嵌套层数过多")
    if not isinstance(document, dict):
        return problem(ErrorCode.VALIDATION_ERROR, errors=_NOT_AN_OBJECT)
    # The walk costs as much as the parse; a look at the bytes says whether it can find anything.
    if raw.count(b"[") + raw.count(b"{") > MAX_JSON_DEPTH or any(part in raw for part in _MAYBE_UNSTORABLE):
        return _refuse_document(document)
    return None


def _has_nul(pair: tuple[str, str]) -> bool:
    return "\x00" in pair[0] or "\x00" in pair[1]


def _takes_json(endpoint: str | None) -> bool:
    # APIFlask's @input(location="json") records the body's media type on the view it wraps.
    spec = getattr(current_app.view_functions.get(endpoint), "_spec", None)
    return spec is not None and spec.get("content_type") == "application/json"


def _refuse_document(document):
    """The refusal of a parsed JSON document that is too deep or holds an unstorable character, or None."""
    pending = [(document, 0)]
    while pending:  # a loop, not recursion: the document's depth is what is being checked
        value, depth = pending.pop()
        if isinstance(value, str):
            if _UNSTORABLE.search(value):
                return _refuse(422, "请求内容含有无法处理的字符")
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth >= MAX_JSON_DEPTH:
            return _refuse(400, "请求内容嵌套层数过多")
        if isinstance(value, dict):
            pending.extend((key, depth) for key in value)
            value = value.values()
        pending.extend((item, depth + 1) for item in value)
    return None


def _refuse(status: int, message: str):
    # A response, not a DomainError: the issue fixes 400 for too-deep documents, where the
    # `validation_error` code's own status is 422.
    return problem(ErrorCode.VALIDATION_ERROR, message, status)
