"""The audit log screen names in Chinese every action, target and detail field the server records:
a clerk or an auditor never reads `objection.photo_view` or `photo_id`. Read from the source, so a
new `audit.record(...)` without its label fails here, not on an auditor's screen."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AUDIT_JS = ROOT / "backend" / "web" / "static" / "office" / "audit.js"


def recorded() -> dict[str, set[str]]:
    """The actions, target kinds and detail fields written anywhere in backend/ (string literals)."""
    found: dict[str, set[str]] = {"actions": set(), "targets": set(), "fields": set()}
    for path in (ROOT / "backend").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):  # apply(..., action="city.load")
                arguments = node.args.kwonlyargs
                found["actions"] |= {default.value for argument, default in zip(arguments, node.args.kw_defaults)
                                     if argument.arg == "action" and isinstance(default, ast.Constant)
                                     and isinstance(default.value, str)}
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg == "action":  # also `"staff.enabled" if active else "staff.disabled"`
                    found["actions"] |= set(literals(keyword.value))
                elif keyword.arg == "target" and isinstance(keyword.value, ast.JoinedStr):
                    first = keyword.value.values[0]
                    if isinstance(first, ast.Constant) and ":" in first.value:
                        found["targets"].add(first.value.split(":")[0])
                elif keyword.arg == "detail" and isinstance(keyword.value, ast.Dict):
                    found["fields"] |= {key.value for key in keyword.value.keys if isinstance(key, ast.Constant)}
    return found


def literals(value: ast.expr):
    """The strings an argument can be: a literal, or either literal of a conditional."""
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        yield value.value
    elif isinstance(value, ast.IfExp):
        yield from literals(value.body)
        yield from literals(value.orelse)


def js_keys(name: str) -> set[str]:
    """The keys of `const NAME = { ... };` in audit.js."""
    text = AUDIT_JS.read_text(encoding="utf-8")
    body = re.search(rf"const {name} = \{{(.*?)\}};", text, re.S).group(1)
    return {quoted or bare for quoted, bare in re.findall(r'(?:"([\w.]+)"|\b(\w+)): "', body)}


def test_every_recorded_action_has_a_chinese_name_on_the_audit_screen():
    actions = recorded()["actions"]
    assert {"objection.photo_view", "city.load", "ladder.update", "staff.disabled"} <= actions  # the scan sees them
    assert sorted(actions - js_keys("ACTIONS")) == []


def test_every_recorded_target_kind_and_detail_field_is_named_in_chinese():
    found = recorded()
    assert {"photo_id", "kind"} <= found["fields"] and "objection" in found["targets"]
    assert sorted(found["targets"] - js_keys("TARGET_KINDS")) == []
    assert sorted(found["fields"] - js_keys("FIELDS")) == []


def test_the_names_are_chinese():
    text = AUDIT_JS.read_text(encoding="utf-8")
    for name in ("ACTIONS", "TARGET_KINDS", "FIELDS"):
        body = re.search(rf"const {name} = \{{(.*?)\}};", text, re.S).group(1)
        labels = re.findall(r':\s*"([^"]*)"', body)
        assert labels and all(re.search(r"[\u4e00-\u9fff]", label) for label in labels), name
