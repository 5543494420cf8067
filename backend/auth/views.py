"""HTTP endpoints of sign-in and accounts."""
from __future__ import annotations

from apiflask import APIBlueprint

bp = APIBlueprint("auth", __name__, url_prefix="/api/auth", tag="登录与身份")
