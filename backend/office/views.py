"""HTTP endpoints of the credit office."""
from __future__ import annotations

from datetime import date

from apiflask import APIBlueprint, Schema
from apiflask.fields import Date, Float, Integer, List, Nested, String
from flask import current_app, stream_with_context

from ..auth import roles, staff
from ..auth.guard import auth, current_principal
from ..auth.schemas import EnrolmentOut
from ..credit.service import tier_levels
from ..errors import DomainError, ErrorCode
from ..merchants import catalog
from ..merchants import review, voids
from ..merchants import serializers as merchant_json
from ..merchants.schemas import (CalendarDayIn, CalendarOut, CalendarYearIn, ConflictListOut, ConflictOut,
                                 ConflictQuery, FailedAttemptListOut, FailedAttemptQuery, OfficePartnerListOut,
                                 OfficePartnerOut, OfficeVoidIn, PartnerExitIn, PartnerIn, PartnerPatchIn, PerkIn,
                                 PerkRulesOut, RedemptionOut, ResolveIn, ScenarioIn, ScenarioListOut, ScenarioOut)
from ..timeutil import iso
from .. import audit
from . import cases, exports, offline, service
from .schemas import (AuditExportQuery, AuditOut, AuditQuery, CasesExportQuery, CasesOut, CasesQuery,
                      ErrorMessagesOut, StatsOut, StatsQuery, TierListOut)

bp = APIBlueprint("office", __name__, url_prefix="/api/office", tag="信用办")


@bp.get("/stats")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.input(StatsQuery, location="query", arg_name="query")
@bp.output(StatsOut)
@bp.doc(summary="核销统计", description="按场景、合作单位、信用等级、日期、片区、主体类型或签发城市汇总核销次数、金额、"
        "优惠金额与离线核销次数（不含已撤销），每组附中文名称；beneficiaries=true 时另计受惠主体数（去重；"
        "范围内核销较多时为 HyperLogLog 估算值，误差约 2%，beneficiaries_approximate 为 true）。")
def stats(query):
    return _report(query, beneficiaries=query["beneficiaries"])


def _report(query, *, beneficiaries: bool) -> dict:
    return service.report(group_by=query["group_by"], day_from=query["from_"], day_to=query["to"],
                          issuer_code=current_app.config["ISSUER_CODE"], beneficiaries=beneficiaries,
                          exact_up_to=current_app.config["STATS_EXACT_BENEFICIARIES_UP_TO"])


@bp.get("/stats.csv")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.input(StatsQuery, location="query", arg_name="query")
@bp.doc(summary="导出核销统计 (CSV)", description="与 /api/office/stats 相同的筛选；中文名称，金额以元计，"
        "含受惠主体数与线上/离线核销，末行为合计。",
        responses={200: {"description": "CSV", "content": {"text/csv": {}}}})
def stats_csv(query):
    report = _report(query, beneficiaries=True)
    return _download(service.stats_csv(rows=report["rows"], total=report["total"], group_by=query["group_by"],
                                       approximate=report["beneficiaries_approximate"]),
                     "text/csv", f"stats-{query['group_by']}.csv")


def _download(body, mimetype: str, filename: str):
    """A file to save (a string, or an iterator of strings sent as it is read, in the request's context)."""
    if not isinstance(body, str):
        body = stream_with_context(body)
    response = current_app.response_class(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# -- partner sign-up and perk rules (data, not code) ----------------------------------------------

def _codes() -> dict[int, str]:
    return {level: tier.code for level, tier in tier_levels().items()}


def _office_partner(partner) -> dict:
    return merchant_json.partner_json(partner, tier_levels(), include_inactive=True)


@bp.get("/scenarios")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.output(ScenarioListOut)
@bp.doc(summary="场景列表")
def scenarios():
    return {"scenarios": catalog.list_scenarios()}


@bp.post("/scenarios")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(ScenarioIn, arg_name="body")
@bp.output(ScenarioOut, status_code=201)
@bp.doc(summary="新增场景", description="审计留痕。")
def create_scenario(body):
    return catalog.create_scenario(actor=current_principal().actor, code=body["code"], name=body["name"])


@bp.get("/partners")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.output(OfficePartnerListOut)
@bp.doc(summary="合作单位与优惠规则（含已停用）")
def partners():
    levels = tier_levels()
    return {"partners": [merchant_json.partner_json(p, levels, include_inactive=True)
                         for p in catalog.list_all_partners()]}


@bp.post("/partners")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(PartnerIn, arg_name="body")
@bp.output(OfficePartnerOut, status_code=201)
@bp.doc(summary="签约合作单位", description="新增合作商户或办事机构；审计留痕，公示列表随即可见。")
def create_partner(body):
    partner = catalog.create_partner(actor=current_principal().actor, name=body["name"],
                                     scenario_code=body["scenario_code"], address=body.get("address"),
                                     hours=body.get("hours"), area_id=body.get("area_id"))
    return _office_partner(partner)


@bp.patch("/partners/<int:partner_id>")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(PartnerPatchIn, arg_name="body")
@bp.output(OfficePartnerOut)
@bp.doc(summary="修改合作单位", description="名称（同一区域内不得重名）、场景、地址、营业时间、区域；"
        "active=false 即暂停合作：公示列表不再显示，核销返回 perk_unavailable；active=true 恢复合作。")
def update_partner(partner_id, body):
    partner = catalog.update_partner(actor=current_principal().actor, partner_id=partner_id, changes=body)
    return _office_partner(partner)


@bp.post("/partners/<int:partner_id>/exit")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(PartnerExitIn, arg_name="body")
@bp.output(OfficePartnerOut)
@bp.doc(summary="合作单位退出", description="停止合作并记录退出日期与原因（不删除）；公示页的“已退出的合作单位”中留存。")
def exit_partner(partner_id, body):
    partner = catalog.exit_partner(actor=current_principal().actor, partner_id=partner_id, reason=body["reason"],
                                   left_on=body["left_on"])
    return _office_partner(partner)


@bp.post("/partners/<int:partner_id>/perks")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(PerkIn, arg_name="body")
@bp.output(PerkRulesOut, status_code=201)
@bp.doc(summary="新增优惠", description="优惠即数据：类型、适用主体与等级、额度、有效期、暂停日历、每日次数、优惠上限。")
def create_perk(partner_id, body):
    perk = catalog.create_perk(actor=current_principal().actor, partner_id=partner_id, values=body)
    return catalog.perk_rules(perk, _codes())


@bp.patch("/perks/<int:perk_id>")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(PerkIn(partial=True), arg_name="body")
@bp.output(PerkRulesOut)
@bp.doc(summary="修改优惠规则", description="下一次核销即按新规则执行，无需改代码或重启；审计记录修改前后的值。")
def update_perk(perk_id, body):
    perk = catalog.update_perk(actor=current_principal().actor, perk_id=perk_id, changes=body)
    return catalog.perk_rules(perk, _codes())


@bp.get("/calendars/<calendar>")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.output(CalendarOut)
@bp.doc(summary="节假日日历", description="例如 major_holidays：放假日（holiday）暂停挂此日历的免费入园等优惠，"
        "异议答复期限不计；调休上班日（workday）计为工作日。")
def calendar(calendar):
    return calendar_view(calendar)


@bp.post("/calendars/<calendar>/days")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(CalendarDayIn, arg_name="body")
@bp.output(CalendarOut, status_code=201)
@bp.doc(summary="节假日日历增加日期", description="放假日（可连续多天），或调休上班日（须为周六或周日）。"
        "其中任一天已在日历中则全部不增加。记入审计日志。")
def add_calendar_day(calendar, body):
    catalog.add_calendar_day(actor=current_principal().actor, calendar=calendar, day=body["day"], name=body["name"],
                             kind=body["kind"], days=body["days"])
    return calendar_view(calendar)


@bp.delete("/calendars/<calendar>/days/<day>")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.output({}, status_code=204)
@bp.doc(summary="节假日日历删除一天")
def remove_calendar_day(calendar, day):
    try:
        parsed = date.fromisoformat(day)
    except ValueError:
        parsed = None
    if parsed is None:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "日期格式应为 YYYY-MM-DD", field="day")
    catalog.remove_calendar_day(actor=current_principal().actor, calendar=calendar, day=parsed)
    return ""


@bp.put("/calendars/<calendar>/years/<int:year>")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(CalendarYearIn, arg_name="body")
@bp.output(CalendarOut)
@bp.doc(summary="确认节假日日历某年的依据", description="该年的放假与调休日期已按所填通知核对，不再是预排；"
        "该年须已有放假日期。记入审计日志。")
def confirm_calendar_year(calendar, year, body):
    catalog.confirm_calendar_year(actor=current_principal().actor, calendar=calendar, year=year, basis=body["basis"])
    return calendar_view(calendar)


def calendar_view(name: str) -> dict:
    days = catalog.calendar_days(name)
    years = catalog.calendar_years(name, days)
    return {"calendar": name, "days": [{"day": d.day.isoformat(), "name": d.name, "kind": d.kind} for d in days],
            "years": years, "attention": catalog.calendar_attention(name, years=years)}


# -- voids, offline conflicts, failed attempts ----------------------------------------------------

@bp.post("/redemptions/<int:redemption_id>/void")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(OfficeVoidIn, arg_name="body")
@bp.output(RedemptionOut)
@bp.doc(summary="撤销核销（信用办）", description="信用办可随时撤销任何核销，须填写原因；审计留痕，统计不再计入。")
def void_redemption(redemption_id, body):
    redemption = voids.void(redemption_id=redemption_id, actor=current_principal().actor,
                            reason=body["reason"])
    return merchant_json.redemption_json(redemption, tier_levels())


def _conflict_json(conflict) -> dict:
    first = review.first_redemption(conflict)
    return {
        "id": conflict.id, "redemption_id": conflict.redemption_id, "client_id": conflict.client_id,
        "partner_id": first.partner_id, "perk_id": first.perk_id, "device_id": conflict.device_id,
        "staff_id": conflict.staff_id, "scanned_at": iso(conflict.scanned_at), "amount_fen": conflict.amount_fen,
        "at": iso(conflict.at), "first_scanned_at": iso(first.scanned_at), "first_device_id": first.device_id,
        "resolved_at": iso(conflict.resolved_at), "resolution": conflict.resolution,
    }


@bp.get("/redemption-conflicts")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.input(ConflictQuery, location="query", arg_name="query")
@bp.output(ConflictListOut)
@bp.doc(summary="离线核销冲突", description="同一信用码在两台设备离线核销：保留先入库的一条，另一条在此待复核。")
def conflicts(query):
    return {"conflicts": [_conflict_json(c) for c in review.list_conflicts(unresolved_only=not query["all"])]}


@bp.post("/redemption-conflicts/<int:conflict_id>/resolve")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(ResolveIn, arg_name="body")
@bp.output(ConflictOut)
@bp.doc(summary="处理离线核销冲突", description="记录处理结论；审计留痕。")
def resolve_conflict(conflict_id, body):
    conflict = review.resolve_conflict(conflict_id=conflict_id, actor=current_principal().actor,
                                       resolution=body["resolution"])
    return _conflict_json(conflict)


@bp.get("/failed-attempts")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.input(FailedAttemptQuery, location="query", arg_name="query")
@bp.output(FailedAttemptListOut)
@bp.doc(summary="核销失败记录", description="每次被拒的核销及原因代码、设备与时间（最近 500 条）；未通过验证的信用码不记录持码人。")
def failed_attempts(query):
    rows = review.list_failed_attempts(day_from=query["from_"], day_to=query["to"], code=query["code"],
                                       partner_id=query["partner_id"])
    return {"failed_attempts": [
        {"id": r.id, "at": iso(r.at), "code": r.code, "reason": r.reason, "client_id": r.client_id,
         "partner_id": r.partner_id, "perk_id": r.perk_id, "device_id": r.device_id, "staff_id": r.staff_id,
         "offline": r.offline, "scanned_at": iso(r.scanned_at), "verified": r.pass_id is not None}
        for r in rows]}


# -- the audit log and the case feed (实时、全量反馈) -------------------------------------------------

@bp.get("/audit")
@bp.auth_required(auth, roles=roles.AUDIT_READERS)
@bp.input(AuditQuery, location="query", arg_name="query")
@bp.output(AuditOut)
@bp.doc(summary="审计日志", description="信用办、商户与命令行的每一次改动，新的在前；按操作人、操作、日期筛选，`before` 翻页。")
def audit_log(query):
    rows = audit.entries(actor=query["actor"], action=query["action"], day_from=query["from_"], day_to=query["to"],
                         before=query["before"], limit=query["limit"])
    return {"entries": [{"id": e.id, "at": iso(e.at), "actor": e.actor, "action": e.action, "target": e.target,
                         "detail": e.detail} for e in rows],
            "next": rows[-1].id if len(rows) == query["limit"] else None}


@bp.get("/audit.csv")
@bp.auth_required(auth, roles=roles.AUDIT_READERS)
@bp.input(AuditExportQuery, location="query", arg_name="query")
@bp.doc(summary="导出审计日志 (CSV)", description="与审计日志页面相同的筛选（操作人、操作、日期），全部符合条件的记录，"
        "新的在前；边读边发，防公式注入。",
        responses={200: {"description": "CSV", "content": {"text/csv": {}}}})
def audit_csv(query):
    return _download(exports.audit_csv(actor=query["actor"], action=query["action"], day_from=query["from_"],
                                       day_to=query["to"]), "text/csv", "audit.csv")


@bp.get("/cases/export")
@bp.auth_required(auth, roles=roles.AUDIT_READERS)
@bp.input(CasesExportQuery, location="query", arg_name="query")
@bp.doc(summary="导出激励案例", description="日期范围内（北京时间，含首尾）的全部核销、拒绝与撤销案例，按记录先后；"
        "format=csv（中文表头，防公式注入）或 jsonl（每行一个案例，字段同案例接口，无游标）。边读边发。"
        "不含姓名、手机号、身份证号。",
        responses={200: {"description": "CSV or JSON lines",
                         "content": {"text/csv": {}, "application/x-ndjson": {}}}})
def cases_export(query):
    body = exports.cases(day_from=query["from_"], day_to=query["to"], issuer_code=current_app.config["ISSUER_CODE"],
                         fmt=query["format"])
    name = f"cases-{query['from_']}-{query['to']}"
    if query["format"] == "jsonl":
        return _download(body, "application/x-ndjson", f"{name}.jsonl")
    return _download(body, "text/csv", f"{name}.csv")


@bp.get("/cases")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.input(CasesQuery, location="query", arg_name="query")
@bp.output(CasesOut)
@bp.doc(summary="激励案例（实时全量反馈）",
        description="每一次核销、拒绝与撤销都是一个案例，按游标翻页；游标只增不减，从上次确认的游标继续即不重不漏。"
                    "不含姓名、手机号、身份证号。")
def case_feed(query):
    config = current_app.config
    return cases.page(after=query["after"], limit=query["limit"], settle_seconds=config["CASE_FEED_SETTLE_SECONDS"],
                      issuer_code=config["ISSUER_CODE"])


# -- what the office's screens read to speak Chinese -----------------------------------------------

@bp.get("/error-messages")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.output(ErrorMessagesOut)
@bp.doc(summary="错误代码的中文说明", description="{代码: 中文说明}，与 docs/api.md 的错误代码表同源；工作台据此显示核销失败原因。")
def error_messages():
    return {"messages": {code.value: code.message for code in ErrorCode}}


@bp.get("/tiers")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.output(TierListOut)
@bp.doc(summary="信用等级", description="本市的信用等级（级别、代码、中文名称），由低到高；编辑优惠的最低等级与额度时使用。")
def tiers():
    return {"tiers": [{"level": t.level, "code": t.code, "name": t.name} for _, t in sorted(tier_levels().items())]}


# -- a new partner's first scanner ------------------------------------------------------------------

@bp.post("/partners/<int:partner_id>/enrolments")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.output(EnrolmentOut, status_code=201)
@bp.doc(summary="为合作单位生成设备绑定码",
        description="签约当天即可绑定第一台扫码手机：一次性、10 分钟内有效（与商户管理员自己生成的相同）；审计留痕。")
def create_partner_enrolment(partner_id):
    partner = catalog.get_partner(partner_id)
    created = staff.create_enrolment(partner_id=partner.id, staff_id=None, actor=current_principal().actor)
    return {"code": created["code"], "expires_at": created["expires_at"]}


# -- each partner's offline share ------------------------------------------------------------------

class OfflineShareQuery(Schema):
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)


class OfflineShareRow(Schema):
    partner = String()
    redemptions = Integer()
    offline = Integer()
    share = Float(metadata={"description": "offline / redemptions, 0..1"})


class OfflineShareOut(Schema):
    rows = List(Nested(OfflineShareRow))


@bp.get("/offline-share")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.input(OfflineShareQuery, location="query", arg_name="query")
@bp.output(OfflineShareOut)
@bp.doc(summary="各商户离线核销占比", description="按日期（北京时间，含首尾）统计各商户的核销次数（不含已撤销）、"
        "其中离线核销的次数与占比，占比高的在前。")
def offline_share(query):
    return {"rows": offline.offline_share(day_from=query["from_"], day_to=query["to"])}
