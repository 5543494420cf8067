"""My credit in plain words, my redemptions, and objections (异议) with the office's answers.

A citizen sees their own standing and why, never anyone else's data; a company representative
sees the company's. The reasons name the rung of the city's ladder that is met or missed, with
the holder's own figure beside it, so that a refusal at a counter can be understood and disputed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from ..auth.models import CitizenAccount, CompanyRepresentative, OfficeUser
from ..auth.roles import OFFICE_WRITERS
from ..auth.sms import OBJECTION_STATUS
from ..credit.models import CreditSubject, Tier, TierRule
from ..credit.service import RATING_ORDER, rule_matches
from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..extensions import db
from ..merchants.models import Partner, Perk, Redemption
from .. import audit
from ..timeutil import SHANGHAI
from . import due, photos
from .models import STATUS_NAMES, Objection, ObjectionPhoto

log = logging.getLogger(__name__)

HISTORY_PAGE = 20
# What a black-listed or ineligible holder can do (信用修复 through both channels, 异议, the office).
ROUTES = {
    "repair": {"kind": "repair", "title": "申请信用修复",
               "text": "失信行为已纠正的，可向信用办申请信用修复：线上在本页提交“信用异议/修复申请”，"
                       "线下到政务服务中心信用办窗口办理；修复完成后名单与等级随下次数据更新调整。"},
    "objection": {"kind": "objection", "title": "提出信用异议",
                  "text": "认为信用记录有误的，可在本页提交异议，信用办在规定时限内受理并答复。"},
    "improve": {"kind": "improve", "title": "提升信用等级",
                "text": "按时履约、依法纳税、参与志愿服务等可提升诚信积分或信用评价，数据随信用平台更新。"},
}


def holder_of(*, account_id: int, holder: str | None) -> CreditSubject:
    """The credit subject the signed-in citizen acts for: their own, or (holder="company") the company."""
    account = db.session.get(CitizenAccount, account_id)
    if account is None or account.disabled:
        raise DomainError(ErrorCode.UNAUTHORIZED)
    if holder == "company" or (holder is None and account.subject_id is None):
        company_id = db.session.scalar(
            select(CompanyRepresentative.company_subject_id)
            .where(CompanyRepresentative.account_id == account_id, CompanyRepresentative.revoked_at.is_(None))
            .order_by(CompanyRepresentative.id).limit(1))
        if company_id is None:
            raise DomainError(ErrorCode.HOLDER_NOT_BOUND, "尚未获得企业授权" if holder == "company" else None)
        return db.session.get(CreditSubject, company_id)
    if account.subject_id is None:
        raise DomainError(ErrorCode.HOLDER_NOT_BOUND)
    return db.session.get(CreditSubject, account.subject_id)


def my_credit(*, account_id: int, holder: str | None) -> dict:
    """Tier, eligibility and why in plain words, what to do about it, and what it unlocks."""
    subject = holder_of(account_id=account_id, holder=holder)
    tiers = {tier.level: tier for tier in db.session.scalars(select(Tier))}
    rules = list(db.session.scalars(select(TierRule).where(TierRule.holder_kind == subject.kind)
                                    .order_by(TierRule.tier_level)))
    tier = tiers.get(subject.tier_level)
    eligible = subject.tier_level >= 1 and not subject.black_listed
    reasons = _reasons(subject, rules, tiers)
    if subject.black_listed:
        routes = [ROUTES["repair"], ROUTES["objection"]]
    elif not eligible:
        routes = [ROUTES["improve"], ROUTES["objection"]]
    else:
        routes = [ROUTES["objection"]]
    return {
        "holder_kind": subject.kind, "tier": tier.code if tier else None, "tier_name": tier.name if tier else "暂未达到",
        "eligible": eligible, "black_listed": bool(subject.black_listed), "reasons": reasons, "routes": routes,
        "updated_at": subject.source_updated_at,
        "perks": _perks_for(subject) if eligible else [],
    }


def _reasons(subject: CreditSubject, rules: list[TierRule], tiers: dict[int, Tier]) -> list[str]:
    def name(level: int) -> str:
        return f"“{tiers[level].name}”" if level in tiers else f"第 {level} 级"

    if subject.black_listed:
        return [f"已列入失信黑名单（信用平台数据更新于 {subject.source_updated_at.astimezone(SHANGHAI):%Y-%m-%d}），"
                "列入期间不能享受信易+激励。如有疑问请联系信用办。"]
    reasons = []
    for rule in rules:
        met = rule_matches(rule, subject)
        if rule.criterion == "score_at_least":
            figure = "暂无诚信积分" if subject.score is None else f"诚信积分 {subject.score} 分"
            reasons.append(f"{figure}，{'达到' if met else '未达到'}{name(rule.tier_level)}所需的 {rule.threshold} 分")
        elif rule.criterion == "rating_in":
            lowest = max(rule.threshold.split(","), key=RATING_ORDER.index)
            figure = "暂无信易评价" if subject.rating is None else f"信易评价 {subject.rating} 级"
            reasons.append(f"{figure}，{'符合' if met else '不符合'}{name(rule.tier_level)}（{lowest} 级"
                           f"{'' if rule.threshold.count(',') == 0 else '及以上'}）")
        elif rule.criterion == "tax_grade_in":
            figure = "暂无纳税信用等级" if subject.tax_grade is None else f"纳税信用 {subject.tax_grade} 级"
            reasons.append(f"{figure}，{'符合' if met else '不符合'}{name(rule.tier_level)}（纳税信用 {rule.threshold} 级）")
        elif rule.criterion == "red_list":
            reasons.append(f"{'已列入' if met else '未列入'}守信红名单（{name(rule.tier_level)}）")
    if subject.tier_level >= 1:
        reasons.insert(0, f"当前信用等级：{name(subject.tier_level)}，可享受信易+激励")
    else:
        reasons.insert(0, "暂未达到最低信用等级，暂不能享受信易+激励")
    return reasons


def _perks_for(subject: CreditSubject) -> list[dict]:
    rows = db.session.execute(
        select(Perk, Partner).join(Partner, Partner.id == Perk.partner_id)
        .where(Perk.active.is_(True), Partner.active.is_(True), Perk.min_tier_level <= subject.tier_level)
        .order_by(Partner.id, Perk.id))
    return [{"partner": partner.name, "address": partner.address, "perk_id": perk.id, "title": perk.title,
             "kind": perk.kind}
            for perk, partner in rows if subject.kind in perk.holder_kinds.split(",")]


def my_redemptions(*, account_id: int, holder: str | None, page: int) -> dict:
    """The holder's redemptions, newest first, a page at a time."""
    subject = holder_of(account_id=account_id, holder=holder)
    rows = db.session.execute(
        select(Redemption, Perk.title, Partner.name).join(Perk, Perk.id == Redemption.perk_id)
        .join(Partner, Partner.id == Redemption.partner_id).where(Redemption.subject_id == subject.id)
        .order_by(Redemption.id.desc()).offset((page - 1) * HISTORY_PAGE).limit(HISTORY_PAGE + 1)).all()
    items = [{"id": r.id, "at": r.recorded_at, "partner": partner, "perk_id": r.perk_id, "perk": title,
              "holder_kind": r.holder_kind, "amount_fen": r.amount_fen, "payable_fen": r.payable_fen,
              "discount_fen": r.discount_fen, "quota": r.quota, "status": r.status, "offline": r.offline}
             for r, title, partner in rows[:HISTORY_PAGE]]
    return {"items": items, "next": page + 1 if len(rows) > HISTORY_PAGE else None}


@dataclass(frozen=True)
class ObjectionRules:
    """The settings an objection is filed and worked under (from the app's config, handed in by the view)."""

    due_working_days: int
    calendar: str
    photo_dir: str
    photo_max_bytes: int
    photos_max: int


def file_objection(*, account_id: int, kind: str, text: str, redemption_id: int | None, partner_id: int | None,
                   rules: ObjectionRules, now: datetime | None = None) -> Objection:
    """Record an objection or complaint, due `rules.due_working_days` working days later. Audited.

    A complaint names the partner it is about, or the redemption (whose partner it then names).
    """
    now = now or utcnow()
    text = text.strip()
    if len(text) < 5:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "请写明异议内容（至少 5 个字）", field="text")
    account = db.session.get(CitizenAccount, account_id)
    subject_id = account.subject_id if account else None
    if redemption_id is not None:
        redemption = db.session.get(Redemption, redemption_id)
        # Only the holder's own redemptions: another's is answered as if it did not exist.
        represented = set(db.session.scalars(select(CompanyRepresentative.company_subject_id).where(
            CompanyRepresentative.account_id == account_id, CompanyRepresentative.revoked_at.is_(None))))
        if redemption is None or redemption.subject_id is None or (
                redemption.subject_id != subject_id and redemption.subject_id not in represented):
            raise DomainError(ErrorCode.NOT_FOUND, "找不到该核销记录")
        subject_id = redemption.subject_id
        if partner_id is not None and partner_id != redemption.partner_id:
            raise DomainError(ErrorCode.VALIDATION_ERROR, "投诉的合作单位与核销记录不符", field="partner_id")
        partner_id = redemption.partner_id
    elif kind == "redemption":
        raise DomainError(ErrorCode.VALIDATION_ERROR, "请选择要提出异议的核销记录", field="redemption_id")
    if kind == "complaint":
        if partner_id is None:
            raise DomainError(ErrorCode.VALIDATION_ERROR, "请选择要投诉的合作单位", field="partner_id")
        if db.session.get(Partner, partner_id) is None:
            raise DomainError(ErrorCode.VALIDATION_ERROR, "找不到该合作单位", field="partner_id")
    elif kind == "credit":
        partner_id = None  # an objection to one's tier concerns the credit platform, not a shop
    objection = Objection(account_id=account_id, subject_id=subject_id, kind=kind, text=text,
                          redemption_id=redemption_id, partner_id=partner_id, status="submitted", created_at=now,
                          due_at=due.due_at(filed_at=now, working_days=rules.due_working_days, calendar=rules.calendar),
                          due_working_days=rules.due_working_days)
    db.session.add(objection)
    db.session.flush()
    audit.record(actor=f"citizen:{account_id}", action="objection.file", target=f"objection:{objection.id}",
                 detail={"kind": kind, "redemption_id": redemption_id, "partner_id": partner_id})
    db.session.commit()
    return objection


def add_photo(*, account_id: int, objection_id: int, data: bytes, rules: ObjectionRules) -> ObjectionPhoto:
    """Attach a photo to the citizen's own open objection: checked by content, cleaned, kept in a file. Audited."""
    objection = db.session.scalar(select(Objection).where(Objection.id == objection_id).with_for_update())
    if objection is None or objection.account_id != account_id:
        raise DomainError(ErrorCode.NOT_FOUND, "找不到该异议")
    if objection.status == "closed":
        raise DomainError(ErrorCode.CONFLICT, "该异议已办结，不能再添加照片")
    count = db.session.scalar(select(func.count()).select_from(ObjectionPhoto)
                              .where(ObjectionPhoto.objection_id == objection_id))
    if count >= rules.photos_max:
        raise DomainError(ErrorCode.CONFLICT, f"每件异议最多 {rules.photos_max} 张照片")
    clean, content_type = photos.cleaned(data, max_bytes=rules.photo_max_bytes)
    name = photos.store(clean, content_type=content_type, folder=rules.photo_dir)
    photo = ObjectionPhoto(objection_id=objection_id, stored_name=name, content_type=content_type,
                           size_bytes=len(clean))
    try:
        db.session.add(photo)
        db.session.flush()
        audit.record(actor=f"citizen:{account_id}", action="objection.photo", target=f"objection:{objection_id}",
                     detail={"photo_id": photo.id, "content_type": content_type, "bytes": len(clean)})
        db.session.commit()
    except Exception:
        db.session.rollback()
        photos.remove([name], folder=rules.photo_dir)  # no row, no file
        raise
    return photo


def photo_for(*, photo_id: int, objection_id: int, rules: ObjectionRules, account_id: int | None = None,
              office_actor: str | None = None) -> tuple:
    """The file and MIME type of a photo, for its owner (`account_id`) or a clerk of the office
    (`office_actor`, e.g. "office:3"), whose opening of a citizen's photo is audited
    (`objection.photo_view`: who, which objection, which photo), as it is personal data.

    Anyone else's photo is answered as if it did not exist."""
    if (account_id is None) == (office_actor is None):
        raise ValueError("photo_for: either the owner's account_id or the office_actor")
    photo = db.session.get(ObjectionPhoto, photo_id)
    objection = db.session.get(Objection, objection_id) if photo else None
    if photo is None or photo.objection_id != objection_id or objection is None or (
            account_id is not None and objection.account_id != account_id):
        raise DomainError(ErrorCode.NOT_FOUND, "找不到该照片")
    path = photos.path_of(photo.stored_name, folder=rules.photo_dir)
    if not path.is_file():  # never an audit entry for a photo nobody could see
        raise DomainError(ErrorCode.NOT_FOUND, "找不到该照片")
    if office_actor is not None:
        audit.record(actor=office_actor, action="objection.photo_view", target=f"objection:{objection_id}",
                     detail={"photo_id": photo_id})
        db.session.commit()
    return path, photo.content_type


def photos_of(objection_ids: list[int]) -> dict[int, list[int]]:
    """Each objection's photo ids, in the order they were added."""
    found: dict[int, list[int]] = {}
    if objection_ids:
        for objection_id, photo_id in db.session.execute(
                select(ObjectionPhoto.objection_id, ObjectionPhoto.id)
                .where(ObjectionPhoto.objection_id.in_(objection_ids)).order_by(ObjectionPhoto.id)):
            found.setdefault(objection_id, []).append(photo_id)
    return found


def my_objections(*, account_id: int) -> list[Objection]:
    return list(db.session.scalars(select(Objection).where(Objection.account_id == account_id)
                                   .order_by(Objection.id.desc())))


def office_objections(*, status: str | None) -> list[Objection]:
    """The queue: what is still open first, by due date; then what was closed, latest first."""
    query = select(Objection)
    if status:
        query = query.where(Objection.status == status)
    return list(db.session.scalars(query.order_by((Objection.status == "closed"), Objection.due_at, Objection.id)
                                   .limit(500)))


def assignees() -> dict[int, str]:
    """The office's staff who may work an objection (those who may write), by id."""
    return dict(db.session.execute(select(OfficeUser.id, OfficeUser.username).where(
        OfficeUser.active.is_(True), OfficeUser.role.in_(OFFICE_WRITERS)).order_by(OfficeUser.username)).all())


def partner_names(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(Partner.id, Partner.name).where(Partner.id.in_(ids))).all())


def assignee_names(objections: list[Objection]) -> dict[int, str]:
    ids = {o.assigned_to for o in objections if o.assigned_to is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(OfficeUser.id, OfficeUser.username).where(OfficeUser.id.in_(ids))).all())


def _locked(objection_id: int) -> Objection:
    objection = db.session.scalar(select(Objection).where(Objection.id == objection_id).with_for_update())
    if objection is None:
        raise DomainError(ErrorCode.NOT_FOUND, "找不到该异议")
    if objection.status == "closed":
        raise DomainError(ErrorCode.CONFLICT, "该异议已办结")
    return objection


def accept_objection(*, objection_id: int, actor: str, sms, now: datetime | None = None) -> Objection:
    """已提交 → 已受理. From then on a complaint shows in its partner's back-office. Audited, texted."""
    objection = _locked(objection_id)
    if objection.status != "submitted":
        raise DomainError(ErrorCode.CONFLICT, "该异议已受理")
    objection.status, objection.accepted_at = "accepted", now or utcnow()
    audit.record(actor=actor, action="objection.accept", target=f"objection:{objection.id}",
                 detail={"kind": objection.kind})
    db.session.commit()
    _notify(objection, sms)
    return objection


def assign_objection(*, objection_id: int, actor: str, assignee_id: int, sms) -> Objection:
    """An accepted objection goes to one of the office's staff: 处理中. Reassigning keeps the status. Audited."""
    objection = _locked(objection_id)
    if objection.status == "submitted":
        raise DomainError(ErrorCode.CONFLICT, "请先受理该异议")
    if assignee_id not in assignees():
        raise DomainError(ErrorCode.VALIDATION_ERROR, "请选择信用办的经办人", field="assignee_id")
    changed = objection.status != "in_progress"
    objection.status, objection.assigned_to = "in_progress", assignee_id
    audit.record(actor=actor, action="objection.assign", target=f"objection:{objection.id}",
                 detail={"assignee_id": assignee_id})
    db.session.commit()
    if changed:
        _notify(objection, sms)
    return objection


def answer_objection(*, objection_id: int, actor: str, text: str, sms, now: datetime | None = None) -> Objection:
    """The office answers once, which closes it (已办结); the citizen sees the answer. Audited, texted.

    An objection answered straight from 已提交 counts as accepted at that moment."""
    text = text.strip()
    if not text:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "请填写答复内容", field="text")
    objection = _locked(objection_id)
    now = now or utcnow()
    objection.status, objection.answer, objection.answered_at, objection.answered_by = "closed", text, now, actor
    objection.accepted_at = objection.accepted_at or now
    audit.record(actor=actor, action="objection.answer", target=f"objection:{objection.id}",
                 detail={"kind": objection.kind, "late": objection.answered_at > objection.due_at})
    db.session.commit()
    _notify(objection, sms)
    return objection


def _notify(objection: Objection, sms) -> None:
    """Text the citizen the new status (never its content: an SMS is read on a lock screen). Audited.

    `sms` is the auth domain's sender (`send(phone, text, template=, params=)`: a template provider
    sends the approved status template with the three values). The change is committed already: a
    gateway that fails is logged and audited, and never undoes it."""
    phone = db.session.scalar(select(CitizenAccount.phone).where(CitizenAccount.id == objection.account_id))
    if not phone:
        return
    text = (f"【信用码】您提交的{KIND_NAMES[objection.kind]}（编号 {objection.id}）状态已更新为"
            f"“{STATUS_NAMES[objection.status]}”，请在信用码“异议与投诉”中查看。")
    try:
        sms.send(phone, text, template=OBJECTION_STATUS,
                 params=(KIND_NAMES[objection.kind], str(objection.id), STATUS_NAMES[objection.status]))
        sent = True
    except (DomainError, OSError) as error:  # OSError: a gateway's network failure (requests' errors are OSErrors)
        log.warning("objection %s: status SMS not sent: %s", objection.id, error)
        sent = False
    audit.record(actor="system", action="objection.sms", target=f"objection:{objection.id}",
                 detail={"status": objection.status, "sent": sent})
    db.session.commit()


KIND_NAMES = {"credit": "信用异议", "redemption": "核销异议", "complaint": "投诉"}


def merchant_complaints(*, partner_id: int) -> list[dict]:
    """The complaints about this partner that the office has accepted, newest first.

    What the merchant sees, by design: the number, the day it was filed, the status, what the
    complaint says, and when it was accepted and closed. Never who filed it (no name, phone,
    account or holder), never the photos or the office's answer (both are the citizen's), never
    which redemption (its time would point at the customer)."""
    rows = db.session.scalars(select(Objection).where(
        Objection.partner_id == partner_id, Objection.kind == "complaint", Objection.status != "submitted")
        .order_by(Objection.id.desc()).limit(200))
    return [{"id": o.id, "filed_on": o.created_at.astimezone(SHANGHAI).date(), "status": o.status,
             "status_name": STATUS_NAMES[o.status], "text": o.text, "accepted_at": o.accepted_at,
             "closed_at": o.answered_at} for o in rows]
