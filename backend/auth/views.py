"""HTTP endpoints of sign-in, sessions, identity binding, merchant devices and office authorisations."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app, jsonify, redirect, request

from ..errors import DomainError, ErrorCode
from ..extensions import db, limiter
from ..timeutil import iso
from . import citizens, limits, office, privacy, roles, sessions, staff
from .guard import auth, current_principal
from .models import Device
from .schemas import (ConsentIn, ConsentOut, PrivacyNoticeOut, SignInMethodsOut, DeviceRenameIn, PasswordResetIn, StaffPatchIn, StaffIn, StaffListOut, StaffOut, DeviceListOut, DeviceOut, EnrolIn, EnrolmentOut, EnrolOut, IdentityIn, IdentityOut, MeOut, MerchantMeOut,
                      PasswordLoginIn, RefreshIn, RepresentativeIn, RepresentativeListOut, RepresentativeOut,
                      SmsLoginIn, SmsSendIn, SmsSentOut, TokenOut, WeChatLoginIn, WeChatWebLoginIn)

bp = APIBlueprint("auth", __name__, url_prefix="/api", tag="登录与身份")


# -- citizens -----------------------------------------------------------------------------------

@bp.post("/auth/sms/send")
@limiter.limit(limits.setting("RATELIMIT_SMS_PER_PHONE"), key_func=limits.phone_key)
@limiter.limit(limits.setting("RATELIMIT_SMS_PER_IP"), key_func=limits.client_ip)
@bp.input(SmsSendIn, arg_name="body")
@bp.output(SmsSentOut, status_code=202)
@bp.doc(summary="发送短信验证码", description="6 位随机码，5 分钟内有效；无论手机号是否注册，回答相同。")
def sms_send(body):
    return citizens.send_sms_code(phone=body["phone"])


@bp.post("/auth/sms/login")
@limiter.limit(limits.setting("RATELIMIT_SMS_LOGIN_PER_PHONE"), key_func=limits.phone_key, deduct_when=limits.failed)
@limiter.limit(limits.setting("RATELIMIT_SIGNIN_PER_IP"), key_func=limits.client_ip)
@bp.input(SmsLoginIn, arg_name="body")
@bp.output(TokenOut)
@bp.doc(summary="短信验证码登录", description="首次登录即创建账号。每个验证码最多尝试 5 次。")
def sms_login(body):
    return citizens.sms_login(phone=body["phone"], code=body["code"]).json()


@bp.post("/auth/wechat/login")
@limiter.limit(limits.setting("RATELIMIT_SIGNIN_PER_IP"), key_func=limits.client_ip)
@bp.input(WeChatLoginIn, arg_name="body")
@bp.output(TokenOut)
@bp.doc(summary="微信小程序登录", description="用 wx.login 的 code 经 jscode2session 换取 openid；首次登录即创建账号。")
def wechat_login(body):
    return citizens.wechat_login(code=body["code"]).json()


# The state of a web sign-in under way: only this browser's cookie knows it, only our API reads it.
WECHAT_STATE_COOKIE = "xym_wechat_state"
WECHAT_STATE_PATH = "/api/auth/wechat/web"


@bp.get("/auth/wechat/web")
@bp.doc(summary="微信公众号网页登录（跳转）",
        description="302 跳转到微信网页授权（snsapi_base，静默授权，只取 openid）；微信带 code 与 state 回到 /m/，"
        "页面再调用 POST /api/auth/wechat/web/login。state 保存在本站 Cookie 中，10 分钟内有效。",
        responses={302: "跳转到微信授权页"})
def wechat_web_start():
    redirect_uri = current_app.config["WECHAT_OA_REDIRECT_URI"] or request.host_url + "m/"
    url, state = citizens.wechat_web_start(redirect_uri=redirect_uri)
    response = redirect(url, 302)
    response.set_cookie(WECHAT_STATE_COOKIE, state, max_age=600, path=WECHAT_STATE_PATH, httponly=True,
                        secure=request.is_secure, samesite="Lax")
    return response


@bp.post("/auth/wechat/web/login")
@limiter.limit(limits.setting("RATELIMIT_SIGNIN_PER_IP"), key_func=limits.client_ip)
@bp.input(WeChatWebLoginIn, arg_name="body")
@bp.output(TokenOut)
@bp.doc(summary="微信公众号网页登录", description="用微信网页授权回调带回的 code 经 sns/oauth2/access_token 换取 openid；"
        "state 须与跳转时写入 Cookie 的一致。首次登录即创建账号。")
def wechat_web_login(body):
    pair = citizens.wechat_web_login(code=body["code"], state=body["state"],
                                     expected_state=request.cookies.get(WECHAT_STATE_COOKIE))
    response = jsonify(pair.json())
    response.delete_cookie(WECHAT_STATE_COOKIE, path=WECHAT_STATE_PATH)  # one state, one sign-in
    return response


@bp.get("/auth/me")
@bp.auth_required(auth, roles=roles.CITIZENS)
@bp.output(MeOut)
@bp.doc(summary="我的账号", description="脱敏手机号、是否已实名、所代表的企业；从不返回身份证号。")
def me():
    return citizens.me(account_id=current_principal().id)


@bp.get("/auth/methods")
@bp.output(SignInMethodsOut)
@bp.doc(summary="可用的登录方式", description="页面据此决定是否显示“微信一键登录”（还须在微信内打开）。")
def sign_in_methods():
    return citizens.sign_in_methods()


@bp.get("/auth/privacy")
@bp.output(PrivacyNoticeOut)
@bp.doc(summary="个人信息保护告知书", description="首次登录后须阅读并同意（POST /api/auth/consent）才能出示信用码；"
        "告知书更新时版本号改变，需重新同意。")
def privacy_notice():
    return privacy.notice(controller=current_app.config["ISSUER_NAME"])


@bp.post("/auth/consent")
@bp.auth_required(auth, roles=roles.CITIZENS)
@bp.input(ConsentIn, arg_name="body")
@bp.output(ConsentOut)
@bp.doc(summary="同意个人信息保护告知书", description="记录所同意的告知书版本与时间；版本须为当前版本。")
def record_consent(body):
    return privacy.record_consent(account_id=current_principal().id, version=body["version"])


@bp.delete("/auth/account")
@bp.auth_required(auth, roles=roles.CITIZENS)
@bp.output({}, status_code=204)
@bp.doc(summary="注销我的账号", description="立即解除实名绑定，删除手机号与微信标识，结束企业授权，注销全部登录；"
        "使用记录只以匿名编号保留。注销后用同一手机号登录将是新账号。")
def delete_account():
    principal = current_principal()
    privacy.delete_account(account_id=principal.id, session_id=principal.session_id)
    return ""


@bp.post("/auth/identity")
@limiter.limit(limits.setting("RATELIMIT_BIND_PER_ACCOUNT"), key_func=limits.account_key)
@limiter.limit(limits.setting("RATELIMIT_BIND_PER_IP"), key_func=limits.client_ip)
@bp.auth_required(auth, roles=roles.CITIZENS)
@bp.input(IdentityIn, arg_name="body")
@bp.output(IdentityOut)
@bp.doc(summary="实名认证（绑定身份）", description="姓名与 18 位身份证号；以带密钥的哈希匹配信用主体，不保存明文。"
        "未匹配时不透露该身份证号是否存在。")
def bind_identity(body):
    return citizens.bind_identity(account_id=current_principal().id, name=body["name"], id_number=body["id_number"])


# -- sessions -----------------------------------------------------------------------------------

@bp.post("/auth/refresh")
@limiter.limit(limits.setting("RATELIMIT_REFRESH_PER_IP"), key_func=limits.client_ip)
@bp.input(RefreshIn, arg_name="body")
@bp.output(TokenOut)
@bp.doc(summary="刷新令牌", description="刷新令牌只能用一次，换得新的一对令牌；旧刷新令牌再次出现即注销整个会话。")
def refresh(body):
    return sessions.refresh_session(refresh_token=body["refresh_token"]).json()


@bp.post("/auth/logout")
@bp.auth_required(auth, roles=roles.EVERYONE)
@bp.output({}, status_code=204)
@bp.doc(summary="退出登录", description="立即注销本会话：其访问令牌与刷新令牌都不再有效。")
def logout():
    sessions.logout(current_principal())
    return ""


@bp.post("/auth/staff/login")
@limiter.limit(limits.setting("RATELIMIT_PASSWORD_PER_USERNAME"), key_func=limits.username_key,
               deduct_when=limits.failed)
@limiter.limit(limits.setting("RATELIMIT_SIGNIN_PER_IP"), key_func=limits.client_ip)
@bp.input(PasswordLoginIn, arg_name="body")
@bp.output(TokenOut)
@bp.doc(summary="商户员工登录", description="商户管理员与收银员；密码以 argon2id 保存。")
def staff_login(body):
    return staff.staff_login(username=body["username"], password=body["password"]).json()


@bp.post("/auth/office/login")
@limiter.limit(limits.setting("RATELIMIT_PASSWORD_PER_USERNAME"), key_func=limits.username_key,
               deduct_when=limits.failed)
@limiter.limit(limits.setting("RATELIMIT_SIGNIN_PER_IP"), key_func=limits.client_ip)
@bp.input(PasswordLoginIn, arg_name="body")
@bp.output(TokenOut)
@bp.doc(summary="信用办用户登录")
def office_login(body):
    return staff.office_login(username=body["username"], password=body["password"]).json()


# -- merchants and their devices ----------------------------------------------------------------

def _partner_json(partner_id: int) -> dict:
    from ..credit.service import tier_levels
    from ..merchants.models import Partner
    from ..merchants.serializers import partner_json
    partner = db.session.get(Partner, partner_id)
    if partner is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    return partner_json(partner, tier_levels())


@bp.post("/devices/enrol")
@limiter.limit(limits.setting("RATELIMIT_ENROL_PER_IP"), key_func=limits.client_ip, deduct_when=limits.failed)
@bp.input(EnrolIn, arg_name="body")
@bp.output(EnrolOut, status_code=201)
@bp.doc(summary="绑定扫码设备", description="用商户管理员生成的一次性绑定码把本机绑定为该商户的扫码设备。")
def enrol_device(body):
    device, token = staff.enrol_device(code=body["code"], name=body["name"])
    return {"device_token": token, "device": {"id": device.id, "name": device.name},
            "partner": _partner_json(device.partner_id)}


@bp.get("/merchant/me")
@bp.auth_required(auth, roles=roles.MERCHANT_SIDE)
@bp.output(MerchantMeOut)
@bp.doc(summary="本商户与本设备", description="扫码端用它刷新商户名称与优惠列表。")
def merchant_me():
    principal = current_principal()
    device = db.session.get(Device, principal.id) if principal.kind == "device" else None
    return {"partner": _partner_json(principal.partner_id), "role": principal.role,
            "device": {"id": device.id, "name": device.name} if device else None}


@bp.post("/merchant/enrolments")
@bp.auth_required(auth, roles=roles.MERCHANT_ADMINS)
@bp.output(EnrolmentOut, status_code=201)
@bp.doc(summary="生成设备绑定码", description="一次性、10 分钟内有效；同时给出二维码供扫码端扫描。")
def create_enrolment():
    principal = current_principal()
    created = staff.create_enrolment(partner_id=principal.partner_id, staff_id=principal.id, actor=principal.actor)
    qr = _enrolment_qr_svg(created["code"])
    return {"code": created["code"], "expires_at": created["expires_at"], "qr_svg": qr}


def _enrolment_qr_svg(code: str) -> str:
    import io

    import qrcode
    from qrcode.image.svg import SvgPathImage
    buffer = io.BytesIO()
    qrcode.make(code, image_factory=SvgPathImage, box_size=8).save(buffer)
    return buffer.getvalue().decode()


def device_json(device: Device) -> dict:
    return {"id": device.id, "name": device.name, "enrolled_at": iso(device.enrolled_at),
            "revoked_at": iso(device.revoked_at), "last_seen_at": iso(device.last_seen_at)}


@bp.get("/merchant/devices")
@bp.auth_required(auth, roles=roles.MERCHANT_ADMINS)
@bp.output(DeviceListOut)
@bp.doc(summary="本商户的扫码设备")
def list_devices():
    return {"devices": [device_json(d) for d in staff.list_devices(partner_id=current_principal().partner_id)]}


@bp.patch("/merchant/devices/<int:device_id>")
@bp.auth_required(auth, roles=roles.MERCHANT_ADMINS)
@bp.input(DeviceRenameIn, arg_name="body")
@bp.output(DeviceOut)
@bp.doc(summary="重命名扫码设备", description="留痕审计。")
def rename_device(device_id: int, body):
    principal = current_principal()
    return device_json(staff.rename_device(partner_id=principal.partner_id, device_id=device_id, name=body["name"],
                                           actor=principal.actor))


@bp.post("/merchant/devices/<int:device_id>/revoke")
@bp.auth_required(auth, roles=roles.MERCHANT_ADMINS)
@bp.output(DeviceOut)
@bp.doc(summary="吊销扫码设备", description="立即生效：该设备的令牌从下一次请求起被拒绝。")
def revoke_device(device_id: int):
    principal = current_principal()
    device = staff.revoke_device(partner_id=principal.partner_id, device_id=device_id, actor=principal.actor)
    return device_json(device)


# -- staff accounts -------------------------------------------------------------------------------

def staff_json(member) -> dict:
    return {"id": member.id, "partner_id": member.partner_id, "username": member.username, "role": member.role,
            "active": member.active}


@bp.get("/merchant/staff")
@bp.auth_required(auth, roles=roles.MERCHANT_ADMINS)
@bp.output(StaffListOut)
@bp.doc(summary="本商户员工")
def list_staff():
    return {"staff": [staff_json(m) for m in staff.list_staff(partner_id=current_principal().partner_id)]}


@bp.post("/merchant/staff")
@bp.auth_required(auth, roles=roles.MERCHANT_ADMINS)
@bp.input(StaffIn, arg_name="body")
@bp.output(StaffOut, status_code=201)
@bp.doc(summary="新增收银员", description="商户管理员只能为本商户新增收银员；留痕审计。")
def create_cashier(body):
    principal = current_principal()
    member = staff.create_staff(actor=principal.actor, partner_id=principal.partner_id, username=body["username"],
                                role=roles.CASHIER, password=body["password"])
    return staff_json(member)


@bp.patch("/merchant/staff/<int:staff_id>")
@bp.auth_required(auth, roles=roles.MERCHANT_ADMINS)
@bp.input(StaffPatchIn, arg_name="body")
@bp.output(StaffOut)
@bp.doc(summary="停用或恢复收银员", description="停用立即生效（其所有登录随即失效）；只能管理本商户的收银员；留痕审计。")
def update_cashier(staff_id: int, body):
    principal = current_principal()
    return staff_json(staff.set_cashier_active(partner_id=principal.partner_id, staff_id=staff_id,
                                               active=body["active"], actor=principal.actor))


@bp.post("/merchant/staff/<int:staff_id>/password")
@bp.auth_required(auth, roles=roles.MERCHANT_ADMINS)
@bp.input(PasswordResetIn, arg_name="body")
@bp.output(StaffOut)
@bp.doc(summary="重置收银员密码", description="其现有登录随即失效；只能管理本商户的收银员；留痕审计。")
def reset_cashier_password(staff_id: int, body):
    principal = current_principal()
    return staff_json(staff.reset_cashier_password(partner_id=principal.partner_id, staff_id=staff_id,
                                                   password=body["password"], actor=principal.actor))


@bp.post("/office/partners/<int:partner_id>/staff")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(StaffIn, arg_name="body")
@bp.output(StaffOut, status_code=201)
@bp.doc(summary="为合作单位开设员工账号", description="签约时由信用办开设商户管理员（或收银员）账号；留痕审计。")
def create_partner_staff(partner_id: int, body):
    member = staff.create_staff(actor=current_principal().actor, partner_id=partner_id, username=body["username"],
                                role=body["role"], password=body["password"])
    return staff_json(member)


# -- the credit office: company representatives --------------------------------------------------

@bp.get("/office/representatives")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.output(RepresentativeListOut)
@bp.doc(summary="企业授权代表列表", description="只含内部编号，不含任何证件号码。")
def list_representatives():
    return {"representatives": [office.representative_json(r) for r in office.list_representatives()]}


@bp.post("/office/representatives")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(RepresentativeIn, arg_name="body")
@bp.output(RepresentativeOut, status_code=201)
@bp.doc(summary="授权企业代表", description="依企业授权委托书，允许已实名的市民出示该企业的信用码；记入审计日志。")
def authorise_representative(body):
    rep = office.authorise_representative(actor=current_principal(), uscc=body["uscc"], id_number=body["id_number"])
    return office.representative_json(rep)


@bp.post("/office/representatives/<int:representative_id>/revoke")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.output(RepresentativeOut)
@bp.doc(summary="撤销企业代表授权", description="记入审计日志。")
def revoke_representative(representative_id: int):
    return office.representative_json(office.revoke_representative(actor=current_principal(),
                                                                   representative_id=representative_id))
