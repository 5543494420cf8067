"""`flask city load FILE`: apply a city's reference data (cities/zhaodong.toml is the Zhaodong pilot)."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from ..extensions import db
from .apply import apply
from .loader import CityFileError, parse

city_cli = AppGroup("city", help="城市参考数据：签发机构、信用等级与阶梯、区域、场景、合作单位与优惠、节假日")


def load_file(path: Path, *, actor: str, other_issuer_ok: bool = False) -> list[str]:
    """Parse, check and apply one file in one transaction; raises CityFileError and writes nothing.

    `other_issuer_ok` (the demo, run as another city to try 多地互认): a file whose issuer is not
    ISSUER_CODE is loaded without its `[issuer]`."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CityFileError(["文件须为 UTF-8 编码"]) from None
    city = parse(text)
    if other_issuer_ok and city.issuer and city.issuer["code"] != current_app.config["ISSUER_CODE"]:
        city.issuer = None
    try:
        changes = apply(city, issuer_code=current_app.config["ISSUER_CODE"], actor=actor, source=path.name)
    except Exception:
        db.session.rollback()
        raise
    db.session.commit()
    return changes


@city_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def load(path: Path):
    """Load a city's reference data from a TOML file (idempotent; every change audited)."""
    try:
        changes = load_file(path, actor="cli")
    except CityFileError as error:
        for line in error.errors:
            click.echo(line, err=True)
        click.echo(f"{path.name} 有 {len(error.errors)} 处错误，未作任何改动。", err=True)
        raise SystemExit(1) from None
    if not changes:
        click.echo(f"{path.name}：与数据库一致，无改动。")
        return
    for change in changes:
        click.echo(f"  {change}")
    click.echo(f"{path.name}：已载入，{len(changes)} 处改动（已记入审计日志）。")


COMMANDS = (city_cli,)
