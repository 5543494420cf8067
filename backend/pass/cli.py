"""`flask pass-keys ...`: create, rotate, revoke and list signing keys; trust partner cities' issuers."""
from __future__ import annotations

import base64

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from . import keyring
from .models import Issuer, PassKey

keys_cli = AppGroup("pass-keys", help="信用码签名密钥管理")


def _local(**kwargs):
    config = current_app.config
    return {"issuer_code": config["ISSUER_CODE"], **kwargs}


@keys_cli.command("create")
def create():
    """Create the local issuer, the seal key and a first active signing key (if none is active)."""
    config = current_app.config
    keyring.ensure_local_issuer(code=config["ISSUER_CODE"], name=config["ISSUER_NAME"])
    keyring.ensure_seal_key(secret=config["PASS_KEY_SECRET"])
    db.session.flush()
    active = db.session.scalar(select(PassKey).where(PassKey.issuer_code == config["ISSUER_CODE"],
                                                     PassKey.status == "active"))
    key = active or keyring.create_key(secret=config["PASS_KEY_SECRET"], **_local())
    db.session.commit()
    click.echo(f"active key: issuer {key.issuer_code} kid {key.kid}")


@keys_cli.command("rotate")
def rotate():
    """Activate a new key; the old one is retired and verifies its passes until they expire."""
    key = keyring.rotate(secret=current_app.config["PASS_KEY_SECRET"], **_local())
    db.session.commit()
    click.echo(f"rotated: new active kid {key.kid}")


@keys_cli.command("revoke")
@click.argument("kid", type=int)
@click.option("--issuer", type=int, default=None, help="行政区划代码；缺省为本地签发机构")
def revoke(kid: int, issuer: int | None):
    """Revoke a key at once: every pass signed with it fails verification."""
    key = keyring.revoke(issuer_code=issuer or current_app.config["ISSUER_CODE"], kid=kid)
    db.session.commit()
    click.echo(f"revoked: issuer {key.issuer_code} kid {key.kid}")


@keys_cli.command("trust")
@click.argument("issuer_code", type=int)
@click.argument("name")
@click.argument("kid", type=int)
@click.argument("public_key")
def trust(issuer_code: int, name: str, kid: int, public_key: str):
    """Trust a partner city's issuer key (public key only, base64url of 32 raw bytes)."""
    raw = base64.urlsafe_b64decode(public_key + "=" * (-len(public_key) % 4))
    if len(raw) != 32:
        raise click.BadParameter("Ed25519 public key must be 32 bytes")
    issuer = db.session.get(Issuer, issuer_code) or Issuer(code=issuer_code, name=name, local=False, trusted=True)
    db.session.add(issuer)
    db.session.add(PassKey(issuer_code=issuer_code, kid=kid, public_key=raw, private_key_encrypted=None))
    db.session.commit()
    click.echo(f"trusted: issuer {issuer_code} ({name}) kid {kid}")


@keys_cli.command("list")
def list_keys():
    for key in db.session.scalars(select(PassKey).order_by(PassKey.issuer_code, PassKey.kid)):
        click.echo(f"{key.issuer_code}\t{key.kid}\t{key.status}\t{key.not_before:%Y-%m-%d %H:%M}\t"
                   f"{'private' if key.private_key_encrypted else 'public only'}")


COMMANDS = (keys_cli,)
