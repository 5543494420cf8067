"""`flask accounts ...`: the accounts a deployment starts from (the first office admin) and its staff."""
from __future__ import annotations

import click
from flask.cli import AppGroup

from ..errors import DomainError
from . import staff
from .roles import MERCHANT_STAFF, OFFICE

accounts_cli = AppGroup("accounts", help="账号管理：信用办用户与商户员工")


@accounts_cli.command("create-office-user")
@click.argument("username")
@click.argument("role", type=click.Choice(OFFICE))
@click.password_option(help="至少 10 位")
def create_office_user(username: str, role: str, password: str):
    """Create a credit-office user (the first office_admin of a new deployment starts here)."""
    try:
        user = staff.create_office_user(actor="cli", username=username, role=role, password=password)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"已创建信用办用户 {user.username}（{user.role}）")


@accounts_cli.command("create-staff")
@click.argument("partner_id", type=int)
@click.argument("username")
@click.argument("role", type=click.Choice(MERCHANT_STAFF))
@click.password_option(help="至少 10 位")
def create_staff(partner_id: int, username: str, role: str, password: str):
    """Create a merchant staff account for a partner."""
    try:
        member = staff.create_staff(actor="cli", partner_id=partner_id, username=username, role=role,
                                    password=password)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"已创建商户员工 {member.username}（{member.role}，合作单位 {member.partner_id}）")


COMMANDS = (accounts_cli,)
