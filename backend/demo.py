"""`flask demo seed` and `flask demo token ROLE`: the demo city of 肇东市, refused outside demo mode.

The nine partners and perks are those of the Zhaodong annex (../shared/domain.md, seed 003); the
tier ladder follows the seeds (persons from 1050 points, companies rated B or better, A-grade
taxpayers, the red list on top, the black list excluded). Synthetic people and companies are drawn
from a fixed random seed so that every demo database is the same.
"""
from __future__ import annotations

import importlib
import random
from datetime import date, timedelta
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from .auth.models import CitizenAccount, CompanyRepresentative, MerchantStaff, OfficeUser
from .auth.privacy import NOTICE_VERSION
from .auth.service import Principal, issue_access_token
from .auth.staff import hash_password
from .city import cli as city_cli
from .credit.identifiers import identity_hash
from .credit.identifiers import id_number_check_char, uscc_check_char
from .credit.models import CreditSubject, TierRule
from .credit.service import compute_tier
from .dbtypes import utcnow
from .extensions import db
from .merchants.models import Partner

keyring = importlib.import_module("backend.pass.keyring")

demo_cli = AppGroup("demo", help="演示数据与演示令牌（仅演示模式）")

DEMO_PASSWORD = "demo-password"
PARTNER_CITY = (370781, "青州市社会信用体系建设领导小组办公室")

# The city's reference data comes from its files, through the same loader a real city uses
# (`flask city load`): the Zhaodong pilot, then two demo-only perks (a scenic spot closed on major
# holidays, a library lending by tier).
CITY_FILES = (Path(__file__).resolve().parents[1] / "cities" / "zhaodong.toml",
              Path(__file__).resolve().parents[1] / "cities" / "demo.toml")
# The demo accounts behind `flask demo token ROLE` (contract in ../shared/design.md).
DEMO_PHONES = {"citizen": "13800000001", "citizen-blacklisted": "13800000002", "company": "13800000003"}
DEMO_STAFF = {"cashier": ("lapenpen-cashier", "cashier"), "merchant-admin": ("lapenpen-admin", "merchant_admin")}
DEMO_OFFICE = {"office-admin": "office_admin", "office-analyst": "office_analyst", "office-auditor": "office_auditor"}
ROLES = tuple(DEMO_PHONES) + tuple(DEMO_STAFF) + tuple(DEMO_OFFICE)


def require_demo() -> None:
    if not current_app.config.get("DEMO"):
        raise click.ClickException("演示命令只能在演示模式下运行（DEMO=1）。")


def synthetic_id_number(rng: random.Random) -> str:
    birth = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
    first17 = f"230184{birth:%Y%m%d}{rng.randrange(1000):03d}"
    return first17 + id_number_check_char(first17)


def synthetic_uscc(rng: random.Random) -> str:
    first17 = "91231184" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(9))
    return first17 + uscc_check_char(first17)


def _subject(pepper: str, kind: str, identifier: str, **standing) -> CreditSubject:
    return CreditSubject(kind=kind, identity_hash=identity_hash(pepper=pepper, identifier=identifier), **standing)


def seed_reference_data() -> None:
    for path in CITY_FILES:
        city_cli.load_file(path, actor="demo", other_issuer_ok=True)


def seed_subjects(pepper: str, rng: random.Random, rules: list[TierRule]) -> dict[str, CreditSubject]:
    """A few hundred synthetic people and companies across every tier, some red- or black-listed."""
    subjects = []
    for _ in range(320):
        subjects.append(_subject(pepper, "person", synthetic_id_number(rng), score=rng.randint(950, 1200),
                                 red_listed=rng.random() < 0.05, black_listed=rng.random() < 0.06))
    for _ in range(80):
        subjects.append(_subject(pepper, "company", synthetic_uscc(rng),
                                 rating=rng.choice(["AAA", "AA", "A", "B", "C", "D"]),
                                 tax_grade=rng.choice("ABMCD"), red_listed=rng.random() < 0.05,
                                 black_listed=rng.random() < 0.06))
    demo = {
        "citizen": _subject(pepper, "person", "230184199001011235", score=1120),
        "citizen-blacklisted": _subject(pepper, "person", "230184198502023459", score=1080, black_listed=True),
        "company": _subject(pepper, "company", "91231184MA1BXYM00T", rating="A", tax_grade="A"),
    }
    for subject in subjects + list(demo.values()):
        subject.tier_level = compute_tier(subject, rules)
    db.session.add_all(subjects + list(demo.values()))
    return demo


def seed_accounts(demo_subjects: dict[str, CreditSubject]) -> None:
    password_hash = hash_password(DEMO_PASSWORD)
    now = utcnow()
    # The demo's citizens have read and agreed to the privacy notice, as after their first sign-in.
    agreed = {"privacy_version": NOTICE_VERSION, "privacy_agreed_at": now}
    citizen = CitizenAccount(phone=DEMO_PHONES["citizen"], subject_id=demo_subjects["citizen"].id, bound_at=now, **agreed)
    blacklisted = CitizenAccount(phone=DEMO_PHONES["citizen-blacklisted"], subject_id=demo_subjects["citizen-blacklisted"].id,
                                 bound_at=now, **agreed)
    representative = CitizenAccount(phone=DEMO_PHONES["company"], **agreed)
    db.session.add_all([citizen, blacklisted, representative])
    db.session.flush()
    db.session.add(CompanyRepresentative(account_id=representative.id, company_subject_id=demo_subjects["company"].id))
    lapenpen = db.session.scalar(select(Partner).where(Partner.name == "辣盆盆小龙虾饭店"))
    for username, role in DEMO_STAFF.values():
        db.session.add(MerchantStaff(partner_id=lapenpen.id, username=username, password_hash=password_hash, role=role))
    for name, role in DEMO_OFFICE.items():
        db.session.add(OfficeUser(username=name, password_hash=password_hash, role=role))


def seed_keys() -> None:
    config = current_app.config
    keyring.ensure_local_issuer(code=config["ISSUER_CODE"], name=config["ISSUER_NAME"])
    keyring.ensure_seal_key(secret=config["PASS_KEY_SECRET"])
    db.session.flush()
    keyring.create_key(issuer_code=config["ISSUER_CODE"], secret=config["PASS_KEY_SECRET"])
    # A partner city (多地互认) whose public key we trust; its private key stays in its own city.
    partner_key = keyring.Ed25519PrivateKey.generate()
    issuer_models = importlib.import_module("backend.pass.models")
    db.session.add(issuer_models.Issuer(code=PARTNER_CITY[0], name=PARTNER_CITY[1], local=False, trusted=True))
    db.session.add(issuer_models.PassKey(issuer_code=PARTNER_CITY[0], kid=1,
                                         public_key=keyring.raw_public_bytes(partner_key)))


@demo_cli.command("seed")
def seed():
    """Load the demo city: tiers, the nine Zhaodong partners and more, people, accounts, keys."""
    require_demo()
    if db.session.scalar(select(Partner.id).limit(1)) is not None:
        click.echo("演示数据已存在，跳过。")
        return
    seed_reference_data()
    db.session.flush()
    rules = list(db.session.scalars(select(TierRule)))
    demo_subjects = seed_subjects(current_app.config["IDENTITY_PEPPER"], random.Random(2026), rules)
    db.session.flush()
    seed_accounts(demo_subjects)
    seed_keys()
    db.session.commit()
    counts = {kind: db.session.scalar(select(db.func.count()).select_from(CreditSubject).where(CreditSubject.kind == kind))
              for kind in ("person", "company")}
    partners = db.session.scalar(select(db.func.count()).select_from(Partner))
    click.echo(f"演示数据已载入：{partners} 家合作单位，{counts['person']} 名市民，{counts['company']} 家企业。")
    click.echo(f"演示账号密码：{DEMO_PASSWORD}；演示令牌：flask demo token ROLE（{', '.join(ROLES)}）")


def principal_for(role: str) -> Principal:
    if role in DEMO_PHONES:
        account = db.session.scalar(select(CitizenAccount).where(CitizenAccount.phone == DEMO_PHONES[role]))
        return Principal(kind="citizen", id=account.id, role="citizen") if account else None
    if role in DEMO_STAFF:
        staff = db.session.scalar(select(MerchantStaff).where(MerchantStaff.username == DEMO_STAFF[role][0]))
        return Principal(kind="staff", id=staff.id, role=staff.role, partner_id=staff.partner_id) if staff else None
    user = db.session.scalar(select(OfficeUser).where(OfficeUser.username == role))
    return Principal(kind="office", id=user.id, role=user.role) if user else None


@demo_cli.command("token")
@click.argument("role", type=click.Choice(ROLES))
def token(role: str):
    """Print a bearer token for the demo account of ROLE."""
    require_demo()
    principal = principal_for(role)
    if principal is None:
        raise click.ClickException("没有演示数据，请先运行 flask demo seed。")
    click.echo(issue_access_token(secret=current_app.config["SECRET_KEY"], principal=principal,
                                  minutes=current_app.config["DEMO_TOKEN_HOURS"] * 60))


@demo_cli.command("enrolment-code")
def enrolment_code():
    """Print a fresh one-time device enrolment code for 辣盆盆小龙虾饭店 (the scanner's tests use it)."""
    require_demo()
    from .auth.staff import create_enrolment
    admin = db.session.scalar(select(MerchantStaff).where(MerchantStaff.username == DEMO_STAFF["merchant-admin"][0]))
    if admin is None:
        raise click.ClickException("没有演示数据，请先运行 flask demo seed。")
    created = create_enrolment(partner_id=admin.partner_id, staff_id=admin.id, actor="cli")
    click.echo(created["code"])


COMMANDS = (demo_cli,)
