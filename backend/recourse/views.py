"""HTTP endpoints of the citizens' recourse: my credit, my history, objections, their photos and answers,
and the complaints a merchant is shown."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app, request, send_file

from ..auth import roles, sms
from ..auth.guard import auth, current_principal
from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..merchants import catalog
from . import service
from .models import STATUS_NAMES
from .schemas import (AnswerIn, AssignIn, ComplaintListOut, CreditOut, HistoryOut, HistoryQuery, HolderQuery,
                      ObjectionCreatedOut, ObjectionIn, ObjectionListOut, OfficeObjectionListOut, OfficeObjectionOut,
                      OfficeObjectionQuery, PhotoIn, PhotoOut)

bp = APIBlueprint("recourse", __name__, url_prefix="/api", tag="信用查询与异议")
# Multipart framing around one photo: the body may exceed the photo's own limit by this much.
MULTIPART_SLACK = 64 << 10


def _rules() -> service.ObjectionRules:
    config = current_app.config
    return service.ObjectionRules(
        due_working_days=config["OBJECTION_DUE_WORKING_DAYS"], calendar=config["OBJECTION_CALENDAR"],
        photo_dir=config["OBJECTION_PHOTO_DIR"], photo_max_bytes=config["OBJECTION_PHOTO_MAX_BYTES"],
        photos_max=config["OBJECTION_PHOTOS_MAX"])


@bp.before_request
def _a_photo_may_be_larger_than_a_json_body() -> None:
    """MAX_CONTENT_LENGTH bounds every JSON body to 1 MB; a phone photo is larger (its own setting)."""
    if request.endpoint == "recourse.add_photo":
        request.max_content_length = current_app.config["OBJECTION_PHOTO_MAX_BYTES"] + MULTIPART_SLACK


def _objections(objections, *, office: bool) -> list[dict]:
    now = utcnow()
    photos = service.photos_of([o.id for o in objections])
    partners = service.partner_names({o.partner_id for o in objections if o.partner_id})
    names = service.assignee_names(objections) if office else {}
    return [_objection(o, now, photos.get(o.id, []), partners, names, office=office) for o in objections]


def _objection(objection, now, photo_ids, partners, names, *, office: bool) -> dict:
    body = {"id": objection.id, "kind": objection.kind, "text": objection.text,
            "redemption_id": objection.redemption_id, "partner_id": objection.partner_id,
            "partner": partners.get(objection.partner_id), "status": objection.status,
            "status_name": STATUS_NAMES[objection.status], "created_at": objection.created_at,
            "due_at": objection.due_at, "overdue": objection.status != "closed" and objection.due_at < now,
            "answer": objection.answer, "answered_at": objection.answered_at,
            "photos": [f"/api/objections/{objection.id}/photos/{p}" for p in photo_ids]}
    if office:
        body.update(accepted_at=objection.accepted_at, assigned_to=names.get(objection.assigned_to))
    return body


@bp.get("/me/credit")
@bp.auth_required(auth, roles=roles.CITIZENS)
@bp.input(HolderQuery, location="query", arg_name="query")
@bp.output(CreditOut)
@bp.doc(summary="我的信用", description="信用等级、能否享受激励及原因（对照本市等级阶梯）、可办理的途径与可用的优惠。")
def my_credit(query):
    return service.my_credit(account_id=current_principal().id, holder=query["holder"])


@bp.get("/me/redemptions")
@bp.auth_required(auth, roles=roles.CITIZENS)
@bp.input(HistoryQuery, location="query", arg_name="query")
@bp.output(HistoryOut)
@bp.doc(summary="我的核销记录", description="本人（或所代表企业）的核销记录，新的在前，每页 20 条；`next` 为下一页页码。")
def my_redemptions(query):
    return service.my_redemptions(account_id=current_principal().id, holder=query["holder"], page=query["page"])


@bp.post("/objections")
@bp.auth_required(auth, roles=roles.CITIZENS)
@bp.input(ObjectionIn, arg_name="body")
@bp.output(ObjectionCreatedOut, status_code=201)
@bp.doc(summary="提交异议或投诉", description="信用记录异议、核销异议或对合作单位的投诉（须指明合作单位或核销记录）；"
        "信用办在 `due_at` 前答复（按本市节假日日历计算的工作日）。照片随后逐张上传。")
def file_objection(body):
    objection = service.file_objection(account_id=current_principal().id, kind=body["kind"], text=body["text"],
                                       redemption_id=body["redemption_id"], partner_id=body["partner_id"],
                                       rules=_rules())
    return {"id": objection.id, "status": objection.status, "due_at": objection.due_at}


@bp.post("/objections/<int:objection_id>/photos")
@bp.auth_required(auth, roles=roles.CITIZENS)
@bp.input(PhotoIn, location="files", arg_name="upload")
@bp.output(PhotoOut, status_code=201)
@bp.doc(summary="为异议添加照片", description="本人未办结的异议，每件最多 3 张（设置 OBJECTION_PHOTOS_MAX）；"
        "按文件内容识别 JPG、PNG、WebP，去除拍摄信息后保存。")
def add_photo(objection_id, upload):
    photo = service.add_photo(account_id=current_principal().id, objection_id=objection_id,
                              data=upload["file"].read(), rules=_rules())
    return {"id": photo.id, "url": f"/api/objections/{objection_id}/photos/{photo.id}"}


@bp.get("/objections/<int:objection_id>/photos/<int:photo_id>")
@bp.auth_required(auth, roles=roles.CITIZENS_AND_OFFICE)
@bp.doc(summary="异议照片", description="仅提交人本人与信用办可取；他人的照片答 404。"
        "信用办人员每次查看照片都记入审计日志（objection.photo_view）。",
        responses={200: {"description": "照片", "content": {"image/jpeg": {}, "image/png": {}, "image/webp": {}}}})
def photo(objection_id, photo_id):
    principal = current_principal()
    if principal.role in roles.CITIZENS:
        viewer = {"account_id": principal.id}
    else:
        viewer = {"office_actor": principal.actor}
    path, content_type = service.photo_for(photo_id=photo_id, objection_id=objection_id, rules=_rules(), **viewer)
    try:
        response = send_file(path, mimetype=content_type, max_age=0, conditional=False)
    except FileNotFoundError:
        raise DomainError(ErrorCode.NOT_FOUND, "找不到该照片") from None
    # Personal evidence: no shared cache may keep it, and the browser must not guess another type.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Disposition"] = "inline"
    return response


@bp.get("/objections")
@bp.auth_required(auth, roles=roles.CITIZENS)
@bp.output(ObjectionListOut)
@bp.doc(summary="我的异议", description="本人提交的异议与投诉、状态、答复期限、照片及信用办的答复。")
def my_objections():
    return {"objections": _objections(service.my_objections(account_id=current_principal().id), office=False)}


@bp.get("/office/objections")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.input(OfficeObjectionQuery, location="query", arg_name="query")
@bp.output(OfficeObjectionListOut)
@bp.doc(summary="异议与投诉（信用办）", description="未办结的按答复期限排在前面；`overdue` 为已超期未办结；"
        "`assignees` 为可指派的经办人；`calendar_attention` 为答复期限所用日历中今天起 60 天内未录入或预排的年份。")
def office_objections(query):
    calendar = current_app.config["OBJECTION_CALENDAR"]
    return {"objections": _objections(service.office_objections(status=query["status"]), office=True),
            "assignees": [{"id": i, "username": n} for i, n in service.assignees().items()],
            "calendar": calendar, "calendar_attention": catalog.calendar_attention(calendar)}


def _one(objection) -> dict:
    return _objections([objection], office=True)[0]


@bp.post("/office/objections/<int:objection_id>/accept")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.output(OfficeObjectionOut)
@bp.doc(summary="受理异议", description="已提交 → 已受理；投诉自此在被投诉商户的后台可见。短信通知市民，记入审计日志。")
def accept_objection(objection_id):
    return _one(service.accept_objection(objection_id=objection_id, actor=current_principal().actor,
                                         sms=sms.sender()))


@bp.post("/office/objections/<int:objection_id>/assign")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(AssignIn, arg_name="body")
@bp.output(OfficeObjectionOut)
@bp.doc(summary="指派经办人", description="已受理的异议交给一名经办人，状态为处理中。短信通知市民，记入审计日志。")
def assign_objection(objection_id, body):
    return _one(service.assign_objection(objection_id=objection_id, actor=current_principal().actor,
                                         assignee_id=body["assignee_id"], sms=sms.sender()))


@bp.post("/office/objections/<int:objection_id>/answer")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(AnswerIn, arg_name="body")
@bp.output(OfficeObjectionOut)
@bp.doc(summary="答复异议", description="答复一次即办结；市民在“我的异议”中看到答复并收到短信。记入审计日志。")
def answer_objection(objection_id, body):
    return _one(service.answer_objection(objection_id=objection_id, actor=current_principal().actor,
                                         text=body["text"], sms=sms.sender()))


@bp.get("/merchant/complaints")
@bp.auth_required(auth, roles=roles.MERCHANT_ADMINS)
@bp.output(ComplaintListOut)
@bp.doc(summary="本商户收到的投诉", description="信用办已受理的投诉：编号、提交日期、状态与内容；"
        "不含投诉人的任何身份信息、照片和信用办给投诉人的答复。")
def merchant_complaints():
    partner_id = current_principal().partner_id
    if partner_id is None:
        raise DomainError(ErrorCode.FORBIDDEN)
    return {"complaints": service.merchant_complaints(partner_id=partner_id)}
