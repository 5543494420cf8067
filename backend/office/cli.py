"""`flask cases push`: deliver the case feed to the provincial platform (backend/office/case_push.py);
`flask stats rollup`: bring the statistics' daily rollups up to date (backend/office/rollup.py)."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from . import case_push, rollup

cases_cli = AppGroup("cases", help="激励案例反馈：推送到省级平台")


@cases_cli.command("push")
@click.option("--once", is_flag=True, help="只推送已到期的案例，然后退出")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 1000))
@click.option("--idle-seconds", default=5.0, show_default=True, type=click.FloatRange(0.1, 3600))
def push(once: bool, batch: int, idle_seconds: float):
    """Push every case to CASE_FEED_URL, signed with CASE_FEED_SECRET, in order, exactly once by cursor."""
    config = current_app.config
    if not config.get("CASE_FEED_URL") or not config.get("CASE_FEED_SECRET"):
        click.echo("未设置 CASE_FEED_URL 与 CASE_FEED_SECRET，无法推送。", err=True)
        raise SystemExit(2)
    feed = case_push.Feed(url=config["CASE_FEED_URL"], secret=config["CASE_FEED_SECRET"], batch=batch,
                          settle_seconds=config["CASE_FEED_SETTLE_SECONDS"], issuer_code=config["ISSUER_CODE"])
    if once:
        sent = 0
        try:
            while case_push.push_once(feed):
                sent += 1
        except case_push.DeliveryFailed as error:
            click.echo(f"省级平台未确认（{error}），已推送 {sent} 批；下次将重发未确认的一批。", err=True)
            raise SystemExit(1) from None
        click.echo(f"已推送 {sent} 批。")
        return
    click.echo("正在推送激励案例（Ctrl+C 停止）……")
    case_push.run(feed, idle_seconds=idle_seconds)


stats_cli = AppGroup("stats", help="核销统计：按日汇总")


@stats_cli.command("rollup")
def roll_up():
    """Recompute the daily rollups of the days touched since the last run (run it every few minutes)."""
    done = rollup.roll_up()
    click.echo(f"已汇总：重算 {done['days']} 天，截至核销 {done['redemption_id']}。")


COMMANDS = (cases_cli, stats_cli)
