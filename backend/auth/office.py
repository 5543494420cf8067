"""What the credit office changes about accounts: company representatives. Every change is audited."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import select

from ..credit.identifiers import is_valid_id_number, is_valid_uscc
from ..credit.models import CreditSubject
from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..extensions import db
from ..audit import record
from ..timeutil import iso
from .models import CitizenAccount, CompanyRepresentative
from ..credit.identifiers import identity_hash
from .service import Principal


def authorise_representative(*, actor: Principal, uscc: str, id_number: str) -> CompanyRepresentative:
    """Let the citizen bound to `id_number` show the pass of the company `uscc`.

    The office works from the company's written authorisation (授权委托书), which names the
    representative by ID number; the representative must already have bound that identity to
    their account. Neither identifier is stored or written to the audit log, only internal ids.
    """
    uscc = (uscc or "").strip().upper()
    id_number = (id_number or "").strip().upper()
    if not is_valid_uscc(uscc):
        raise DomainError(ErrorCode.USCC_INVALID)
    if not is_valid_id_number(id_number):
        raise DomainError(ErrorCode.ID_NUMBER_INVALID)
    pepper = current_app.config["IDENTITY_PEPPER"]
    company = db.session.scalar(select(CreditSubject).where(
        CreditSubject.identity_hash == identity_hash(pepper=pepper, identifier=uscc), CreditSubject.kind == "company"))
    if company is None:
        raise DomainError(ErrorCode.COMPANY_NOT_FOUND)
    account = db.session.scalar(select(CitizenAccount).join(CreditSubject, CitizenAccount.subject_id == CreditSubject.id)
                                .where(CreditSubject.identity_hash == identity_hash(pepper=pepper, identifier=id_number)))
    if account is None:
        raise DomainError(ErrorCode.REPRESENTATIVE_NOT_BOUND)
    rep = db.session.scalar(select(CompanyRepresentative).where(CompanyRepresentative.account_id == account.id,
                                                                CompanyRepresentative.company_subject_id == company.id))
    if rep is None:
        rep = CompanyRepresentative(account_id=account.id, company_subject_id=company.id)
        db.session.add(rep)
    rep.authorised_by, rep.authorised_at, rep.revoked_at = actor.id, utcnow(), None
    db.session.flush()
    record(actor=actor.actor, action="representative.authorised", target=f"representative:{rep.id}",
           detail={"account_id": account.id, "company_subject_id": company.id})
    db.session.commit()
    return rep


def revoke_representative(*, actor: Principal, representative_id: int) -> CompanyRepresentative:
    rep = db.session.get(CompanyRepresentative, representative_id)
    if rep is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    if rep.revoked_at is None:
        rep.revoked_at = utcnow()
        record(actor=actor.actor, action="representative.revoked", target=f"representative:{rep.id}",
               detail={"account_id": rep.account_id, "company_subject_id": rep.company_subject_id})
    db.session.commit()
    return rep


def list_representatives() -> list[CompanyRepresentative]:
    return list(db.session.scalars(select(CompanyRepresentative).order_by(CompanyRepresentative.id)))


def representative_json(rep: CompanyRepresentative) -> dict:
    return {"id": rep.id, "account_id": rep.account_id, "company_subject_id": rep.company_subject_id,
            "authorised_by": rep.authorised_by, "authorised_at": iso(rep.authorised_at),
            "revoked_at": iso(rep.revoked_at), "active": rep.revoked_at is None}
