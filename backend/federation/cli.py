"""`flask federation key | add URL PINNED_KEY | sync`: exchange trust lists with partner cities."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from . import service

federation_cli = AppGroup("federation", help="多地互认：信任列表的发布、登记与同步")


@federation_cli.command("key")
def key():
    """Print this city's federation public key (give it to partner cities to pin)."""
    _, public = service.signing_key(secret=current_app.config["PASS_KEY_SECRET"])
    click.echo(service.b64(public))


@federation_cli.command("add", context_settings={"ignore_unknown_options": True})
@click.argument("url")
@click.argument("pinned_key")
def add(url: str, pinned_key: str):
    """Register a partner city by its trust-list URL and its federation public key (base64url)."""
    if not url.startswith(("https://", "http://")):
        click.echo("URL 应以 https:// 开头", err=True)
        raise SystemExit(2)
    try:
        service.add_partner(url=url, pinned_key=pinned_key, actor="cli")
    except (service.TrustListRejected, ValueError) as error:
        click.echo(f"未登记：{getattr(error, 'reason', '固定公钥格式不正确')}", err=True)
        raise SystemExit(1) from None
    click.echo(f"已登记互认城市 {url}；运行 flask federation sync 获取其信任列表。")


@federation_cli.command("sync")
def sync():
    """Fetch, verify and apply every partner city's trust list (run it periodically: docs/federation.md)."""
    results = service.sync_all(own_issuer=current_app.config["ISSUER_CODE"], actor="cli")
    for url, outcome in results.items():
        click.echo(f"{url}\t{outcome}")
    if any(outcome.startswith("未采用") for outcome in results.values()):
        raise SystemExit(1)


COMMANDS = (federation_cli,)
