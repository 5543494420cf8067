"""`flask credit ...`: load standing from the public credit platform, recompute tiers."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from ..extensions import db
from ..audit import record
from .models import ImportJob
from . import formats, importer
from .service import recompute_all_tiers

credit_cli = AppGroup("credit", help="信用数据：导入信用等级与红黑名单")


@credit_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch-size", default=20_000, show_default=True)
def import_file(path: Path, batch_size: int):
    """Load the credit platform's export: CSV (UTF-8 or GBK/GB18030) or XLSX (backend/credit/formats.py)."""
    total = formats.count_rows(path)
    job = ImportJob(kind="credit_subjects", total_rows=total)
    db.session.add(job)
    record(actor="cli", action="credit.import", target=f"import_job:{path.name}", detail={"rows": total})
    db.session.commit()
    with click.progressbar(length=total or 0, label="导入中", show_pos=True, show_percent=True) as bar:
        done = [0]

        def advance(current: ImportJob) -> None:
            bar.update(current.processed_rows - done[0])
            done[0] = current.processed_rows

        try:
            result = importer.run_import(rows=formats.read_rows(path), pepper=current_app.config["IDENTITY_PEPPER"],
                                         job=job, batch_size=batch_size, on_progress=advance)
        except importer.ImportFailed as error:
            raise click.ClickException(f"导入中止：{error}（此前已提交的批次保留）") from None
    click.echo(f"完成：处理 {result.processed} 行，拒绝 {result.rejected} 行。")
    for line in result.errors:
        click.echo(line, err=True)


@credit_cli.command("recompute-tiers")
def recompute_tiers():
    """Apply the current tier ladder to every subject (after the ladder was edited)."""
    changed = recompute_all_tiers()
    record(actor="cli", action="credit.recompute_tiers", detail={"changed": changed})
    db.session.commit()
    click.echo(f"已重算，{changed} 个主体的等级发生变化。")


COMMANDS = (credit_cli,)
