"""Request and response shapes of sign-in, identity binding, devices and office authorisations."""
from apiflask import Schema
from apiflask.fields import AwareDateTime, Boolean, Integer, List, Nested, String
from apiflask.validators import Length, OneOf

from ..merchants.schemas import PartnerOut
from .roles import CASHIER, MERCHANT_STAFF


class SmsSendIn(Schema):
    phone = String(required=True, validate=Length(max=32), metadata={
        "example": "13800000001", "description": "手机号；可带 +86、空格或连字符，全角数字亦可"})


class SmsSentOut(Schema):
    sent = Boolean()
    expires_in = Integer(metadata={"description": "验证码有效秒数"})


class SmsLoginIn(Schema):
    phone = String(required=True, validate=Length(max=32))
    code = String(required=True, validate=Length(max=12))


class WeChatLoginIn(Schema):
    code = String(required=True, validate=Length(min=1, max=128), metadata={"description": "wx.login 得到的 code"})


class WeChatWebLoginIn(Schema):
    code = String(required=True, validate=Length(min=1, max=128), metadata={"description": "微信网页授权回调带回的 code"})
    state = String(required=True, validate=Length(min=1, max=128), metadata={"description": "回调带回的 state"})


class PasswordLoginIn(Schema):
    username = String(required=True, validate=Length(min=1, max=64))
    password = String(required=True, validate=Length(min=1, max=256))


class RefreshIn(Schema):
    refresh_token = String(required=True, validate=Length(min=1, max=256))


class TokenOut(Schema):
    access_token = String()
    refresh_token = String()
    expires_in = Integer(metadata={"description": "访问令牌有效秒数"})
    token_type = String(metadata={"example": "Bearer"})


class IdentityIn(Schema):
    name = String(required=True, validate=Length(min=1, max=40))
    id_number = String(required=True, validate=Length(min=1, max=32),
                       metadata={"description": "18 位居民身份证号码（GB 11643 校验）；不保存明文"})


class IdentityOut(Schema):
    identity_bound = Boolean()
    bound_at = String(allow_none=True)


class CompanyLinkOut(Schema):
    representative_id = Integer()
    authorised_at = String()


class ConsentIn(Schema):
    version = String(required=True, validate=Length(min=1, max=16), metadata={"description": "所同意的告知书版本"})


class ConsentOut(Schema):
    version = String()
    agreed_at = String()


class ConsentItem(ConsentOut):
    """The consent as a field of MeOut (a schema used nested and top-level needs its own class)."""


class SignInMethodsOut(Schema):
    sms = Boolean(metadata={"description": "短信验证码登录"})
    wechat_web = Boolean(metadata={"description": "微信公众号网页登录（已配置公众号）"})


class NoticeSection(Schema):
    title = String()
    text = String()


class PrivacyNoticeOut(Schema):
    version = String()
    controller = String(metadata={"description": "个人信息处理者"})
    title = String()
    sections = List(Nested(NoticeSection))


class MeOut(Schema):
    id = Integer()
    phone = String(allow_none=True, metadata={"description": "脱敏手机号"})
    wechat = Boolean()
    identity_bound = Boolean()
    bound_at = String(allow_none=True)
    companies = List(Nested(CompanyLinkOut))
    consent = Nested(ConsentItem, allow_none=True, metadata={"description": "已同意的告知书版本与时间；未同意为 null"})
    privacy_version = String(metadata={"description": "当前告知书版本：与 consent.version 不同即需（重新）同意"})


class DeviceOut(Schema):
    id = Integer()
    name = String()
    enrolled_at = String()
    revoked_at = String(allow_none=True)
    last_seen_at = String(allow_none=True)


class DeviceItemOut(DeviceOut):
    """The same fields inside a list (apispec wants one schema class per place it is used)."""


class DeviceListOut(Schema):
    devices = List(Nested(DeviceItemOut))


class DeviceBriefOut(Schema):
    id = Integer()
    name = String()


class EnrolIn(Schema):
    code = String(required=True, validate=Length(min=1, max=64))
    name = String(load_default="收银台", validate=Length(max=64))


class EnrolOut(Schema):
    device_token = String()
    device = Nested(DeviceBriefOut)
    partner = Nested(PartnerOut)


class MerchantMeOut(Schema):
    partner = Nested(PartnerOut)
    device = Nested(DeviceBriefOut, allow_none=True)
    role = String()


class EnrolmentOut(Schema):
    code = String(metadata={"description": "一次性绑定码（也可扫二维码）"})
    expires_at = AwareDateTime()
    qr_svg = String(metadata={"description": "绑定码的二维码 SVG"})


class RepresentativeIn(Schema):
    uscc = String(required=True, validate=Length(min=1, max=32), metadata={"description": "统一社会信用代码"})
    id_number = String(required=True, validate=Length(min=1, max=32), metadata={"description": "被授权人身份证号"})


class RepresentativeOut(Schema):
    id = Integer()
    account_id = Integer()
    company_subject_id = Integer()
    authorised_by = Integer(allow_none=True)
    authorised_at = String()
    revoked_at = String(allow_none=True)
    active = Boolean()


class RepresentativeItemOut(RepresentativeOut):
    """The same fields inside a list."""


class RepresentativeListOut(Schema):
    representatives = List(Nested(RepresentativeItemOut))


class StaffIn(Schema):
    username = String(required=True, validate=Length(min=3, max=64))
    password = String(required=True, validate=Length(min=1, max=256), load_only=True,
                      metadata={"description": "初始密码，至少 10 位；以 argon2id 保存"})
    role = String(load_default=CASHIER, validate=OneOf(MERCHANT_STAFF))


class StaffPatchIn(Schema):
    active = Boolean(required=True, metadata={"description": "false 停用（立即退出所有登录），true 恢复"})


class PasswordResetIn(Schema):
    password = String(required=True, validate=Length(min=1, max=256), load_only=True,
                      metadata={"description": "新密码，至少 10 位"})


class DeviceRenameIn(Schema):
    name = String(required=True, validate=Length(min=1, max=64))


class StaffOut(Schema):
    id = Integer()
    partner_id = Integer()
    username = String()
    role = String()
    active = Boolean()


class StaffItemOut(StaffOut):
    """The list's item under its own name: apispec registers a schema used both alone and nested twice."""


class StaffListOut(Schema):
    staff = List(Nested(StaffItemOut))
