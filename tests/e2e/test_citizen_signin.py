"""Signing in on /m/ at 360x740, the way production does it: SMS through Tencent Cloud's API (a local
server that checks the signature) with the resend countdown and the wait after "操作过于频繁", WeChat's
web sign-in inside the 公众号 (a local server speaking OAuth2 snsapi_base), the privacy notice and
consent before the first pass, logout, and deleting one's account."""
from __future__ import annotations

import re
import secrets

import pytest
import requests
from sqlalchemy import select

from backend.auth.models import CitizenAccount
from backend.auth.privacy import NOTICE_VERSION
from backend.auth.service import Principal, issue_access_token
from backend.credit.identifiers import id_number_check_char, identity_hash
from backend.credit.models import CreditSubject
from backend.extensions import db
from tests.auth.fake_tencent_sms import SDK_APP_ID, SECRET_ID, SECRET_KEY, SIGN_NAME, TEMPLATE_ID, FakeTencentSms
from tests.auth.fake_wechat import APPID, OA_APPID, OA_SECRET, SECRET, FakeWeChat
from tests.e2e.test_citizen_pages import axe_violations
from tests.helpers import Gunicorn

pytestmark = pytest.mark.e2e

IN_WECHAT = ("Mozilla/5.0 (Linux; Android 13; V2148A) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/116.0 "
             "Mobile Safari/537.36 XWEB/1160065 MicroMessenger/8.0.49.2600(0x28003133) WeChat/arm64 NetType/WIFI")


@pytest.fixture(scope="module")
def providers():
    with FakeWeChat() as wechat, FakeTencentSms() as sms:
        yield wechat, sms


@pytest.fixture(scope="module")
def production_server(app, providers, tmp_path_factory):
    """gunicorn as a city runs it: SMS through Tencent and WeChat sign-in, both at the local fakes."""
    wechat, sms = providers
    server = Gunicorn(app, tmp_path_factory.mktemp("signin") / "gunicorn.log", workers=1, env={
        "SMS_PROVIDER": "tencent", "TENCENT_SMS_ENDPOINT": sms.endpoint, "TENCENT_SMS_SECRET_ID": SECRET_ID,
        "TENCENT_SMS_SECRET_KEY": SECRET_KEY, "TENCENT_SMS_SDK_APP_ID": SDK_APP_ID,
        "TENCENT_SMS_SIGN_NAME": SIGN_NAME, "TENCENT_SMS_TEMPLATE_ID": TEMPLATE_ID,
        "WECHAT_API_BASE": wechat.base_url, "WECHAT_OPEN_BASE": wechat.base_url, "WECHAT_APPID": APPID,
        "WECHAT_SECRET": SECRET, "WECHAT_OA_APPID": OA_APPID, "WECHAT_OA_SECRET": OA_SECRET})
    yield server.base
    server.stop()


def fresh_phone() -> str:
    return f"135{secrets.randbelow(10**8):08d}"


def bound_citizen(app, *, agreed: bool) -> tuple[int, str]:
    """A citizen bound to an eligible person, who has (or has not yet) agreed to the notice: (id, token)."""
    with app.app_context():
        first17 = f"2301841990{secrets.randbelow(10**7):07d}"
        subject = CreditSubject(kind="person", tier_level=2, score=1120,
                                identity_hash=identity_hash(pepper=app.config["IDENTITY_PEPPER"],
                                                            identifier=first17 + id_number_check_char(first17)))
        db.session.add(subject)
        db.session.flush()
        account = CitizenAccount(phone=fresh_phone(), subject_id=subject.id,
                                 privacy_version=NOTICE_VERSION if agreed else None)
        db.session.add(account)
        db.session.commit()
        token = issue_access_token(secret=app.config["SECRET_KEY"], minutes=15,
                                   principal=Principal("citizen", account.id, "citizen", session_id=secrets.token_hex(8)))
        return account.id, token


def account(app, account_id: int) -> CitizenAccount:
    with app.app_context():
        return db.session.get(CitizenAccount, account_id)


def test_the_first_pass_waits_for_consent_to_the_privacy_notice(app, live_server, launch, screenshot):
    account_id, token = bound_citizen(app, agreed=False)
    page = launch().new_page()
    page.goto(f"{live_server}/m/#token={token}")
    page.wait_for_selector("#consent:not([hidden]) h3")
    notice = page.inner_text("#consent")
    for needed in ("个人信息保护告知书", "谁处理您的个人信息", "商户能看到什么", "注销", "同意并继续", "不同意"):
        assert needed in notice, needed
    assert page.locator("#qr").is_hidden() and page.locator("#tabs").is_hidden()
    screenshot(page, "consent", app="citizen")
    assert axe_violations(page) == []
    page.click("#consent-agree")
    page.wait_for_selector("#qr svg", timeout=15000)
    assert page.locator("#consent").is_hidden()
    agreed = account(app, account_id)
    assert agreed.privacy_version == NOTICE_VERSION and agreed.privacy_agreed_at is not None


def test_declining_at_first_sign_in_deletes_what_the_sign_in_left(app, live_server, launch):
    account_id, token = bound_citizen(app, agreed=False)
    page = launch().new_page()
    page.goto(f"{live_server}/m/#token={token}")
    page.wait_for_selector("#consent-agree:not([disabled])")
    page.click("#consent-decline")
    page.wait_for_selector("#signin:not([hidden])")
    assert "本次登录留下的手机号或微信信息已删除" in page.inner_text("#signin-error")
    gone = account(app, account_id)
    assert gone.phone is None and gone.subject_id is None and gone.deleted_at is not None


def test_logout_ends_the_session_on_the_server_too(app, live_server, launch):
    _, token = bound_citizen(app, agreed=True)
    page = launch().new_page()
    page.goto(f"{live_server}/m/#token={token}")
    page.wait_for_selector("#qr svg", timeout=15000)
    page.click("#logout")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.inner_text("#signin-error") == "已退出登录"
    assert requests.get(f"{live_server}/api/auth/me", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code == 401


def test_deleting_the_account_says_what_goes_asks_once_more_and_erases(app, live_server, launch, screenshot):
    account_id, token = bound_citizen(app, agreed=True)
    page = launch().new_page()
    page.goto(f"{live_server}/m/#token={token}")
    page.wait_for_selector("#qr svg", timeout=15000)
    page.click("#delete-account")
    page.wait_for_selector("#erase:not([hidden])")
    assert page.locator("#qr").is_hidden() and page.locator("#tabs").is_hidden()
    screenshot(page, "delete-account", app="citizen")
    assert axe_violations(page) == []
    page.click("#erase-cancel")  # changed their mind: back to the pass, nothing erased
    page.wait_for_selector("#qr svg", timeout=15000)
    assert account(app, account_id).phone is not None
    page.click("#delete-account")
    page.click("#erase-confirm")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.inner_text("#signin-error") == "账号已注销，手机号和实名信息已删除。"
    screenshot(page, "account-deleted", app="citizen")
    assert page.evaluate("() => localStorage.getItem('xym.citizen.access')") is None
    gone = account(app, account_id)
    assert (gone.phone, gone.subject_id, gone.deleted_at is not None) == (None, None, True)
    assert requests.get(f"{live_server}/api/auth/me", headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code == 401


def test_sms_sign_in_through_tencent_counts_down_the_resend_and_says_how_long_to_wait(
        app, production_server, providers, launch, screenshot):
    _, sms = providers
    phone = fresh_phone()
    page = launch().new_page()
    page.goto(f"{production_server}/m/")
    page.wait_for_selector("#signin:not([hidden])")
    assert page.locator("#wechat-signin").is_hidden()  # outside WeChat, no WeChat button
    page.fill("#phone", phone)
    page.click("#send-code")
    page.wait_for_selector("#resend-hint:not([hidden])")
    assert re.fullmatch(r"重新获取（(5\d|60) 秒）", page.inner_text("#send-code"))
    assert page.locator("#send-code").is_disabled()
    assert page.inner_text("#signin-error") == "验证码已发送，5 分钟内有效"
    screenshot(page, "signin-resend-countdown", app="citizen")
    # A reload forgets the countdown; the server does not, and says how long.
    page.reload()
    page.wait_for_selector("#signin:not([hidden])")
    page.fill("#phone", phone)
    page.click("#send-code")
    page.wait_for_selector("#signin-error.error")
    message = page.inner_text("#signin-error")
    wait = int(re.fullmatch(r"操作过于频繁，请 (\d+) 秒后再试", message).group(1))
    assert 1 <= wait <= 61
    assert page.locator("#send-code").is_disabled() and "秒）" in page.inner_text("#send-code")
    screenshot(page, "signin-too-often", app="citizen")
    assert axe_violations(page) == []
    # The code Tencent delivered signs in; the first sign-in shows the notice.
    page.fill("#code", sms.code_sent_to(phone))
    page.click("#login")
    page.wait_for_selector("#consent:not([hidden]) h3")
    page.click("#consent-agree")
    page.wait_for_selector("#bind:not([hidden])")  # a new account binds its identity next


def test_a_phones_daily_limit_at_tencent_says_come_back_tomorrow(production_server, providers, launch):
    _, sms = providers
    phone = fresh_phone()
    sms.phone_codes[phone] = "LimitExceeded.PhoneNumberDailyLimit"
    page = launch().new_page()
    page.goto(f"{production_server}/m/")
    page.wait_for_selector("#signin:not([hidden])")
    page.fill("#phone", phone)
    page.click("#send-code")
    page.wait_for_selector("#signin-error.error")
    assert page.inner_text("#signin-error") == "该手机号今天接收短信已达上限，请明天再试"
    assert page.locator("#send-code").is_disabled()


def test_wechat_web_sign_in_inside_the_official_account(app, live_server, production_server, providers,
                                                         playwright_instance, screenshot):
    wechat, _ = providers
    wechat.user_openid = f"oa-{secrets.token_hex(6)}"
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ENV
    browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, headless=True, env=CHROMIUM_ENV,
                                                  args=["--headless=new", "--no-sandbox", "--disable-gpu"])
    try:
        context = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN", is_mobile=True,
                                      has_touch=True, user_agent=IN_WECHAT, timezone_id="Asia/Shanghai")
        page = context.new_page()
        page.goto(f"{live_server}/m/")  # no 公众号 set up there: no button that leads nowhere
        page.wait_for_selector("#signin:not([hidden])")
        page.wait_for_load_state("networkidle")
        assert page.locator("#wechat-signin").is_hidden()
        page.goto(f"{production_server}/m/")
        page.wait_for_selector("#wechat-signin:not([hidden])")
        screenshot(page, "signin-in-wechat", app="citizen")
        page.click("#wechat-signin")  # ours → WeChat's authorize page → back to /m/?code=…&state=…
        page.wait_for_selector("#consent:not([hidden]) h3", timeout=15000)
        assert "code=" not in page.url  # the used code is not left in the address bar or history
        assert any(r["path"] == "/sns/oauth2/access_token" for r in wechat.requests)
        with app.app_context():
            made = db.session.scalar(select(CitizenAccount).where(CitizenAccount.wechat_oa_openid == wechat.user_openid))
            assert made is not None and made.phone is None
    finally:
        browser.close()
