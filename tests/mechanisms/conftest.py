"""Mechanism tests: how the code is fast and safe under load (group commit, pools, the change feed,
gunicorn's workers), as against what it does (the domain folders). Every test here carries the
`mechanism` marker, so `pytest -m "not mechanism"` is the behaviour suite alone, and a test file
joins by being moved here."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tests.merchants.conftest import shop  # noqa: F401  (redemption's fixture: a partner of the test's own)
# A signed-in citizen with a standing (`pass` is a keyword: the package is loaded by name).
citizen = importlib.import_module("tests.pass.conftest").citizen

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.mechanism)
