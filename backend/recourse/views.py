"""HTTP endpoints of the citizens' recourse: my credit, my history, objections and their answers."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app

from ..auth import roles
from ..auth.guard import auth, current_principal
from ..dbtypes import utcnow
from . import service
from .schemas import (AnswerIn, CreditOut, HistoryOut, HistoryQuery, HolderQuery, ObjectionCreatedOut, ObjectionIn,
                      ObjectionListOut, ObjectionOut, OfficeObjectionQuery)

bp = APIBlueprint("recourse", __name__, url_prefix="/api", tag="信用查询与异议")


def _objection(objection, now) -> dict:
    return {"id": objection.id, "kind": objection.kind, "text": objection.text,
            "redemption_id": objection.redemption_id, "status": objection.status,
            "created_at": objection.created_at, "due_at": objection.due_at,
            "overdue": objection.status == "open" and objection.due_at < now,
            "answer": objection.answer, "answered_at": objection.answered_at}


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
@bp.doc(summary="提交异议或投诉", description="信用记录异议、核销异议或对合作单位的投诉；信用办在 `due_at` 前答复。")
def file_objection(body):
    objection = service.file_objection(account_id=current_principal().id, kind=body["kind"], text=body["text"],
                                       redemption_id=body["redemption_id"],
                                       due_days=current_app.config["OBJECTION_DUE_DAYS"])
    return {"id": objection.id, "status": objection.status, "due_at": objection.due_at}


@bp.get("/objections")
@bp.auth_required(auth, roles=roles.CITIZENS)
@bp.output(ObjectionListOut)
@bp.doc(summary="我的异议", description="本人提交的异议与投诉及信用办的答复。")
def my_objections():
    now = utcnow()
    return {"objections": [_objection(o, now) for o in service.my_objections(account_id=current_principal().id)]}


@bp.get("/office/objections")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.input(OfficeObjectionQuery, location="query", arg_name="query")
@bp.output(ObjectionListOut)
@bp.doc(summary="异议与投诉（信用办）", description="按答复期限排列；`overdue` 为已超期未答复。")
def office_objections(query):
    now = utcnow()
    return {"objections": [_objection(o, now) for o in service.office_objections(status=query["status"])]}


@bp.post("/office/objections/<int:objection_id>/answer")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(AnswerIn, arg_name="body")
@bp.output(ObjectionOut)
@bp.doc(summary="答复异议", description="答复一次；市民在“我的异议”中看到答复。记入审计日志。")
def answer_objection(objection_id, body):
    objection = service.answer_objection(objection_id=objection_id, actor=current_principal().actor, text=body["text"])
    return _objection(objection, utcnow())
