"""One source per constant: roles, perk kinds and the environment are each spelled in one place."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend.auth import roles
from backend.auth.models import MerchantStaff, OfficeUser
from backend.dbtypes import one_of
from backend.merchants.models import PERK_KINDS, Perk

ROOT = Path(__file__).resolve().parents[1]
INITIAL_SCHEMA = (ROOT / "migrations" / "versions" / "0001_initial_schema.py").read_text(encoding="utf-8")


@pytest.mark.parametrize(("model", "column", "names"), [
    (Perk, "kind", PERK_KINDS), (MerchantStaff, "role", roles.MERCHANT_STAFF), (OfficeUser, "role", roles.OFFICE),
])
def test_check_constraints_are_written_from_the_tuple_of_names_and_match_the_migration(model, column, names):
    (check,) = [c for c in model.__table__.constraints if c.name in (column, f"ck_{model.__tablename__}_{column}")]
    assert str(check.sqltext) == one_of(column, names)
    # A name added to the tuple changes the constraint: that needs a migration, never only a model edit.
    assert f'"{one_of(column, names)}"' in INITIAL_SCHEMA


def test_every_view_names_a_role_group_of_backend_auth_roles(app):
    groups = {id(group) for name, group in vars(roles).items() if name.isupper() and isinstance(group, tuple)}
    guarded = {endpoint: view._spec["roles"] for endpoint, view in app.view_functions.items()
               if getattr(view, "_spec", {}).get("auth")}
    assert len(guarded) > 30
    for endpoint, group in guarded.items():
        # the very tuple, not a list that happens to hold the same names today
        assert id(group) in groups, f"{endpoint} spells its roles instead of naming a group of backend/auth/roles.py"
        assert set(group) <= set(roles.EVERYONE)


def test_only_backend_config_reads_the_environment():
    sources = [*(ROOT / "backend").rglob("*.py"), ROOT / "gunicorn.conf.py", ROOT / "wsgi.py"]
    readers = sorted(str(path.relative_to(ROOT)) for path in sources
                     if "node_modules" not in path.parts
                     and re.search(r"os\.environ|os\.getenv|getenv\(", path.read_text(encoding="utf-8")))
    assert readers == ["backend/config.py"]
