"""The error codes are one typed registry (backend/errors.py ErrorCode), and everything that names
them stays in step with it: docs/api.md, the OpenAPI document, the scanner's messages and the web
pages (issue 13, item 6)."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from backend.errors import DomainError, ErrorCode

ROOT = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")
SCANNER_SRC = ROOT / "merchant_scanner" / "src"
WEB_STATIC = ROOT / "backend" / "web" / "static"


def _js(folder: Path) -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for path in sorted(folder.rglob("*.js"))
            if "node_modules" not in path.parts}


def test_a_domain_error_takes_a_member_of_the_registry_never_a_string():
    with pytest.raises(TypeError):
        DomainError("pass_expired")
    error = DomainError(ErrorCode.PASS_EXPIRED)
    assert (error.status, error.message) == (410, ErrorCode.PASS_EXPIRED.message)


def test_no_call_site_names_a_code_by_its_string():
    """`DomainError(...)` and `problem(...)` take `ErrorCode.X`; a message, when given, is Chinese."""
    for path in (ROOT / "backend").rglob("*.py"):
        if "node_modules" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in {"DomainError", "problem"}):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            assert node.args, where
            assert not isinstance(node.args[0], ast.Constant), f"{where} names a code by a string"
            if len(node.args) > 1 and isinstance(node.args[1], ast.Constant) and node.args[1].value:
                assert CJK.search(node.args[1].value), f"{where}: a message people read is Chinese"


def test_every_code_has_a_chinese_message_with_no_developer_words():
    for code in ErrorCode:
        assert CJK.search(code.message) and not re.search(r"[A-Za-z]", code.message), code
        assert 400 <= code.status < 600, code


def _documented_statuses() -> dict[str, set[int]]:
    """docs/api.md's error tables: `code` / `code` | status / status | when."""
    found: dict[str, set[int]] = {}
    for line in (ROOT / "docs" / "api.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].startswith("`"):
            continue
        codes = re.findall(r"`([a-z_]+)`", cells[0])
        statuses = [int(status) for status in re.findall(r"\d{3}", cells[1])]
        if not statuses:
            continue
        pairs = zip(codes, statuses) if len(statuses) == len(codes) else ((code, statuses[0]) for code in codes)
        for code, status in pairs:
            found.setdefault(code, set()).add(status)
    return found


def test_every_code_is_in_docs_api_md_with_its_status():
    documented = _documented_statuses()
    assert {code.value: {code.status} for code in ErrorCode} == documented


def test_the_openapi_problem_schema_names_exactly_the_registry(app):
    with app.app_context():
        document = app.spec
    assert document["components"]["schemas"]["Problem"]["properties"]["code"]["enum"] == [c.value for c in ErrorCode]
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text(encoding="utf-8"))
    assert committed["components"]["schemas"]["Problem"] == document["components"]["schemas"]["Problem"]


def _codes_by_operation(document: dict) -> dict[tuple[str, str], set[str]]:
    """(METHOD, path) -> the codes its documented error responses carry."""
    return {(method.upper(), path): {name for status, response in operation["responses"].items()
                                     if status[0] in "45"
                                     for name in re.findall(r"`([a-z_]+)`", response["description"])}
            for path, item in document["paths"].items() for method, operation in item.items()}


def _scanner_calls(sources: dict[Path, str]) -> set[tuple[str, str]]:
    """The API calls the scanner's source makes: request('GET', '/pass/keys', ...) and api(...)."""
    calls = set()
    for text in sources.values():
        for method, path in re.findall(r"\b(?:request|api)\('([A-Z]+)',\s*[`']([^`'?]+)", text):
            calls.add((method, "/api" + re.sub(r"\$\{[^}]+\}", "{id}", path)))
    return calls


def _matching(operations, method: str, path: str):
    pattern = re.compile("^" + re.sub(r"\\\{id\\\}", r"\\{[a-z_]+\\}", re.escape(path)) + "$")
    return [key for key in operations if key[0] == method and pattern.match(key[1])]


def test_the_scanner_explains_every_code_its_calls_can_answer_with(app):
    """The scanner shows its own Chinese title and hint for a code (merchant_scanner/src/messages.js);
    which codes it can meet follows from the calls its source makes, read in the OpenAPI document.
    Sign-in, identity, office and the citizen's codes never reach it: it calls none of their routes."""
    with app.app_context():
        operations = _codes_by_operation(app.spec)
    sources = _js(SCANNER_SRC)
    calls = _scanner_calls(sources)
    assert {("POST", "/api/redemptions"), ("GET", "/api/pass/keys"), ("POST", "/api/devices/enrol")} <= calls
    can_meet = set()
    for method, path in calls:
        (operation,) = _matching(operations, method, path)
        can_meet |= operations[operation]
    messages = sources[SCANNER_SRC / "messages.js"]
    table = messages[messages.index("const CODES = {"):messages.index("};")]
    explained = set(re.findall(r"^\s+([a-z_]+): \{ title: '[^']*[\u4e00-\u9fff]", table, re.M))
    explained |= set(re.findall(r"code === '([a-z_]+)'", messages))  # pass_invalid: one text per reason
    assert can_meet - explained == set()
    assert explained & {code.value for code in ErrorCode} <= {code.value for code in ErrorCode}


def test_the_web_pages_show_the_servers_chinese_message_for_every_code():
    """The citizen page and the office dashboard put the problem's `message` on screen (every code's
    message is Chinese: see above), so they need no table of their own; a page that stopped doing so
    would show nothing, or English, for some code."""
    sources = _js(WEB_STATIC)
    assert sources
    for path, text in sources.items():
        if "response.json()" in text and "fetch(" in text:  # a module that calls the API itself
            # Its error carries the problem's message (backend/web/static/api.js: class ApiError).
            assert re.search(r"(new Error|super)\(problem\.message\)", text), path.name


def test_the_codes_the_pass_codec_refuses_with_are_members_of_the_registry():
    """The codec (backend/pass/codec.py) keeps its codes as text, shared with the scanner through the
    test vectors; the pass service turns them into `ErrorCode(...)`, which must not fail."""
    vectors = json.loads((ROOT / "tests" / "vectors" / "pass.json").read_text(encoding="utf-8"))
    codes = {case["code"] for case in vectors["cases"] if "code" in case}
    assert codes and all(ErrorCode(code).value == code for code in codes)
    source = (ROOT / "backend" / "pass" / "codec.py").read_text(encoding="utf-8")
    raised = set(re.findall(r"PassRejected\(\"([a-z_]+)\"", source))
    assert raised and all(ErrorCode(code) for code in raised)
