"""HTTP endpoints of the credit domain: the office uploads the platform's export and follows its progress."""
from __future__ import annotations

import io

from apiflask import APIBlueprint
from flask import current_app, request, send_file

from ..auth import roles
from ..auth.guard import auth, current_principal
from ..errors import DomainError, ErrorCode
from ..extensions import db
from .models import ImportJob
from . import flows, formats
from .schemas import ImportJobOut, ImportUploadIn, TemplateQuery

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
@bp.doc(summary="导入信用等级与红黑名单",
        description="上传信用平台导出的 CSV（UTF-8 或 GBK/GB18030）或 XLSX，后台导入；用返回的任务编号查询进度。")
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


@bp.get("/imports/template")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(TemplateQuery, location="query", arg_name="query")
@bp.doc(summary="下载导入模板", description="中文列名的导入模板：XLSX（第二张表为填写说明）或 CSV。填好后原样上传。",
        responses={200: {"description": "模板文件", "content": {formats.XLSX_MIMETYPE: {}, "text/csv": {}}}})
def import_template(query):
    body, mimetype, name = formats.template(query["format"])
    return send_file(io.BytesIO(body), mimetype=mimetype, as_attachment=True, download_name=name, max_age=0)
