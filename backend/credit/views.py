"""HTTP endpoints of the credit domain: the office uploads the platform's export and follows its progress."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app, request

from ..auth import roles
from ..auth.guard import auth, current_principal
from ..errors import DomainError, ErrorCode
from ..extensions import db
from .models import ImportJob
from . import flows
from .schemas import ImportJobOut, ImportUploadIn

bp = APIBlueprint("credit", __name__, url_prefix="/api/credit", tag="信用数据")


@bp.before_request
def _a_whole_city_may_be_uploaded() -> None:
    """A city's export runs to tens of megabytes, beyond MAX_CONTENT_LENGTH, which bounds every other body."""
    if request.endpoint == "credit.start_import":
        request.max_content_length = current_app.config["IMPORT_MAX_BYTES"]


@bp.post("/imports")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(ImportUploadIn, location="files", arg_name="upload")
@bp.output(ImportJobOut, status_code=202)
@bp.doc(summary="导入信用等级与红黑名单", description="上传信用平台导出的 CSV，后台导入；用返回的任务编号查询进度。")
def start_import(upload):
    job = flows.start_import(app=current_app._get_current_object(), upload=upload["file"],
                             actor=current_principal().actor)
    return flows.job_json(job)


@bp.get("/imports/<int:job_id>")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.output(ImportJobOut)
@bp.doc(summary="导入进度")
def import_progress(job_id: int):
    job = db.session.get(ImportJob, job_id)
    if job is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    return flows.job_json(job)
