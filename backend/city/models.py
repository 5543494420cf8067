"""Areas of a city (街道, 社区): where partners are, for pilots that start in one community."""
from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from ..dbtypes import BigId
from ..extensions import db


class Area(db.Model):
    __tablename__ = "areas"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # e.g. the statistical division code
    name: Mapped[str] = mapped_column(String(64))
    parent_code: Mapped[str | None] = mapped_column(String(32))  # a 社区's 街道
