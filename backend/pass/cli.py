"""`flask pass-keys ...`: create, rotate, revoke and list signing keys; trust partner cities' issuers
and map their tier levels to ours.

Every command that changes the ring commits first and then announces the change through Redis,
so that every gunicorn worker reloads the ring on its next request (see keyring.py). If Redis is
unreachable the command says so: workers then notice within the keyring's short cache time.
"""
from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .. import audit
from ..dbtypes import utcnow
from ..errors import DomainError
from ..extensions import db
from . import codec, keyring
from .context import key_ring_changed
from .models import Issuer, PassKey

keys_cli = AppGroup("pass-keys", help="信用码签名密钥管理")


def _local(**kwargs):
    config = current_app.config
    return {"issuer_code": config["ISSUER_CODE"], **kwargs}


def _announce() -> None:
    if not key_ring_changed():
        click.echo(f"警告：Redis 不可用，各进程将在 {keyring.KEYRING_CACHE_SECONDS:g} 秒内生效。", err=True)


def _active_local_key() -> PassKey | None:
    return db.session.scalar(select(PassKey).where(PassKey.issuer_code == current_app.config["ISSUER_CODE"],
                                                   PassKey.status == "active"))


@keys_cli.command("create")
def create():
    """Create the local issuer, the seal key and a first active signing key (if none is active)."""
    config = current_app.config
    keyring.ensure_local_issuer(code=config["ISSUER_CODE"], name=config["ISSUER_NAME"])
    keyring.ensure_seal_key(secret=config["PASS_KEY_SECRET"])
    db.session.flush()
    key = _active_local_key() or keyring.create_key(secret=config["PASS_KEY_SECRET"], **_local())
    db.session.commit()
    _announce()
    click.echo(f"active key: issuer {key.issuer_code} kid {key.kid}")


@keys_cli.command("rotate")
def rotate():
    """Activate a new key; the old one is retired and verifies its passes until they expire."""
    key = keyring.rotate(secret=current_app.config["PASS_KEY_SECRET"], **_local())
    db.session.commit()
    _announce()
    click.echo(f"rotated: new active kid {key.kid}")


@keys_cli.command("revoke")
@click.argument("kid", type=int)
@click.option("--issuer", type=int, default=None, help="行政区划代码；缺省为本地签发机构")
def revoke(kid: int, issuer: int | None):
    """Revoke a key at once: every pass signed with it fails verification."""
    try:
        key = keyring.revoke(issuer_code=issuer or current_app.config["ISSUER_CODE"], kid=kid)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    db.session.commit()
    _announce()
    click.echo(f"revoked: issuer {key.issuer_code} kid {key.kid}")
    if key.issuer_code == current_app.config["ISSUER_CODE"] and _active_local_key() is None:
        click.echo("警告：本地已无有效签名密钥，签发已停止；请运行 flask pass-keys create。", err=True)


def _parse_public_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise click.BadParameter("not base64url", param_hint="PUBLIC_KEY") from None
    if len(raw) != 32:
        raise click.BadParameter("an Ed25519 public key is 32 bytes", param_hint="PUBLIC_KEY")
    if not codec.is_valid_public_key(raw):
        # A small-order key "verifies" forged passes in lax verifiers (docs/pass-format.md, the key list).
        raise click.BadParameter("not a valid Ed25519 public key (small order, non-canonical or off the curve)",
                                 param_hint="PUBLIC_KEY")
    return raw


# A base64url key may begin with "-" (one key in 64): without ignore_unknown_options click would
# read such a key as an option and refuse it. Unknown options go back to the positional arguments
# unchanged, and a real typo still fails as an unexpected extra argument.
@keys_cli.command("trust", context_settings={"ignore_unknown_options": True})
@click.argument("issuer_code", type=click.IntRange(1, 2**24 - 1))
@click.argument("name")
@click.argument("kid", type=click.IntRange(0, 2**16 - 1))
@click.argument("public_key")
@click.option("--not-before", type=click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), default=None,
              help="该密钥启用时间 (UTC)；缺省为现在")
@click.option("--tier-map", "tier_map", default=None, metavar="对方等级=本市等级,...",
              help="等级对应，如 \"1=1,2=2,3=3\"；未列出的等级不予认可")
@click.option("--levels", default=None, metavar="等级,...",
              help="对方公布的信用等级，如 \"1,2,3,4,5\"；缺省为本市的等级（见 flask pass-keys levels）")
def trust(issuer_code: int, name: str, kid: int, public_key: str, not_before: datetime | None, tier_map: str | None,
          levels: str | None):
    """Trust a partner city's issuer key (public key only, base64url of 32 raw bytes).

    Its passes redeem only at the levels `--tier-map` names (their level = our level); without it the
    issuer's mapping is left as it is (none for a new issuer: every pass refused with tier_not_accepted
    until `flask pass-keys tier-map`). `--levels` names the levels its passes may carry when its
    ladder is not ours (rule 9 of docs/pass-format.md); without it they are read against ours."""
    raw = _parse_public_key(public_key)
    mapping = _parse_tier_map(tier_map) if tier_map is not None else None
    published = _parse_levels(levels) if levels is not None else None
    if issuer_code == current_app.config["ISSUER_CODE"]:
        raise click.ClickException("本地签发机构的密钥用 create / rotate 生成，不能导入。")
    if db.session.scalar(select(PassKey.id).where(PassKey.issuer_code == issuer_code, PassKey.kid == kid)):
        raise click.ClickException(f"签发机构 {issuer_code} 已有密钥 {kid}。")
    issuer = db.session.get(Issuer, issuer_code)
    if issuer is None:
        issuer = Issuer(code=issuer_code, name=name, local=False, trusted=True)
        db.session.add(issuer)
    issuer.trusted = True
    db.session.add(PassKey(issuer_code=issuer_code, kid=kid, public_key=raw, private_key_encrypted=None,
                           status="active",
                           not_before=not_before.replace(tzinfo=timezone.utc) if not_before else utcnow()))
    audit.record(actor="cli", action="pass_keys.trust", target=f"issuer:{issuer_code}",
                 detail={"issuer": issuer_code, "name": issuer.name, "kid": kid})
    db.session.flush()
    if published is not None:
        _refused_unless(keyring.set_levels, issuer_code=issuer_code, levels=published, actor="cli")
    if mapping is not None:
        _set_tier_map(issuer_code, mapping)
    db.session.commit()
    _announce()
    click.echo(f"trusted: issuer {issuer_code} ({issuer.name}) kid {kid}")
    _echo_levels(issuer)
    _echo_tier_map(issuer)


@keys_cli.command("tier-map")
@click.argument("issuer_code", type=click.IntRange(1, 2**24 - 1))
@click.argument("tier_map", metavar="TIER_MAP")
def tier_map_command(issuer_code: int, tier_map: str):
    """Map a hand-trusted issuer's tier levels to ours: "1=1,2=2" (their level = our level); levels
    not named are not accepted ("" accepts none). Audited; scanners fetch the change."""
    mapping = _parse_tier_map(tier_map)
    _set_tier_map(issuer_code, mapping)
    db.session.commit()
    _announce()
    _echo_tier_map(db.session.get(Issuer, issuer_code))


@keys_cli.command("levels")
@click.argument("issuer_code", type=click.IntRange(1, 2**24 - 1))
@click.argument("levels", metavar="LEVELS")
def levels_command(issuer_code: int, levels: str):
    """Say which tier levels a hand-trusted issuer publishes: "1,2,3,4,5" (its passes may carry
    those, rule 9); "" reads its passes against this city's levels again. Audited; scanners fetch it."""
    published = _parse_levels(levels)
    _refused_unless(keyring.set_levels, issuer_code=issuer_code, levels=published, actor="cli")
    db.session.commit()
    _announce()
    _echo_levels(db.session.get(Issuer, issuer_code))


def _parse_tier_map(text: str) -> dict[str, int]:
    try:
        return keyring.parse_tier_map(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="TIER_MAP") from None


def _parse_levels(text: str) -> dict[str, None] | None:
    try:
        return keyring.parse_levels(text)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="LEVELS") from None


def _set_tier_map(issuer_code: int, mapping: dict[str, int]) -> None:
    _refused_unless(keyring.set_tier_map, issuer_code=issuer_code, mapping=mapping, actor="cli")


def _refused_unless(change, **arguments) -> None:
    """Make a key ring change, or undo everything of this command and say why it was refused."""
    try:
        change(**arguments)
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    except ValueError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from None


def _echo_levels(issuer: Issuer) -> None:
    if issuer.tier_levels is not None:
        click.echo("levels: " + ",".join(sorted(issuer.tier_levels, key=int)))


def _echo_tier_map(issuer: Issuer) -> None:
    accepted = sorted((int(theirs), ours) for theirs, ours in (issuer.tier_map or {}).items() if ours is not None)
    if accepted:
        click.echo("tier map: " + ", ".join(f"{theirs}={ours}" for theirs, ours in accepted))
    else:
        click.echo(f"警告：签发机构 {issuer.code} 的等级均不予认可，其信用码将以 tier_not_accepted 拒绝；"
                   f"请用 flask pass-keys tier-map {issuer.code} \"1=1,2=2\" 设置等级对应。", err=True)


@keys_cli.command("list")
def list_keys():
    """Every key: issuer, kid, status, validity and whether this server holds its private part."""
    for key in db.session.scalars(select(PassKey).order_by(PassKey.issuer_code, PassKey.kid)):
        not_after = f"{key.not_after:%Y-%m-%d %H:%M}" if key.not_after else "-"
        click.echo(f"{key.issuer_code}\t{key.kid}\t{key.status}\t{key.not_before:%Y-%m-%d %H:%M}\t{not_after}\t"
                   f"{'private' if key.private_key_encrypted else 'public only'}")


COMMANDS = (keys_cli,)
