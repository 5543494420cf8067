"""HTTP endpoints of the credit domain."""
from __future__ import annotations

from apiflask import APIBlueprint

bp = APIBlueprint("credit", __name__, url_prefix="/api/credit", tag="信用数据")
