"""WeChat sign-in: the mini-program's `jscode2session` and the 公众号 page's OAuth2 `snsapi_base`.

Mini-program (code from `wx.login`):
    GET {WECHAT_API_BASE}/sns/jscode2session?appid=…&secret=…&js_code=…&grant_type=authorization_code
    → {"openid": …, "session_key": …, "unionid": …}  or  {"errcode": …, "errmsg": …}

公众号 web page (网页授权, silent `snsapi_base`: the citizen sees no consent screen of WeChat's):
    1. the browser is sent to
       {WECHAT_OPEN_BASE}/connect/oauth2/authorize?appid=…&redirect_uri=…&response_type=code
         &scope=snsapi_base&state=…#wechat_redirect
    2. WeChat sends it back to redirect_uri?code=…&state=… (the code lives 5 minutes, usable once)
    3. GET {WECHAT_API_BASE}/sns/oauth2/access_token?appid=…&secret=…&code=…&grant_type=authorization_code
       → {"access_token", "expires_in", "refresh_token", "openid", "scope", "is_snapshotuser"?, "unionid"?}
         or {"errcode": …, "errmsg": …}
The 公众号 has its own appid and secret, and its openids are not the mini-program's (one person, two
openids): they are kept apart (`CitizenAccount.wechat_oa_openid`).

The session_key and the web access_token are dropped at once: nothing here calls WeChat on the
user's behalf, and a key that is never stored cannot leak. WeChat's error codes map to ours;
anything unexpected (network, timeout, non-JSON, an unknown errcode such as a wrong app secret) is
`wechat_unavailable` and is logged for the operators without the secret or the code.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode

import requests

from ..errors import DomainError, ErrorCode

log = logging.getLogger(__name__)

ERRCODES = {
    40029: ErrorCode.WECHAT_CODE_INVALID,  # invalid code
    40163: ErrorCode.WECHAT_CODE_INVALID,  # code already used
    42003: ErrorCode.WECHAT_CODE_INVALID,  # oauth code expired (web sign-in: 5 minutes)
    41008: ErrorCode.WECHAT_CODE_INVALID,  # missing code
    45011: ErrorCode.RATE_LIMITED,  # API minute quota of this user reached
    40226: ErrorCode.WECHAT_USER_BLOCKED,  # high-risk user, blocked by WeChat
    -1: ErrorCode.WECHAT_UNAVAILABLE,  # system busy
}


@dataclass(frozen=True)
class WeChatIdentity:
    openid: str
    unionid: str | None


def _get(*, base_url: str, path: str, params: dict, timeout: tuple[float, float]) -> dict:
    """GET one of WeChat's JSON APIs; its errcode mapped to ours, every other failure `wechat_unavailable`."""
    name = path.rsplit("/", 1)[-1]
    try:
        response = requests.get(base_url.rstrip("/") + path, params=params, timeout=timeout, allow_redirects=False)
        body = response.json()  # WeChat answers JSON, sometimes labelled text/plain
    except (requests.RequestException, ValueError) as error:
        log.warning("%s failed: %s", name, type(error).__name__)
        raise DomainError(ErrorCode.WECHAT_UNAVAILABLE) from None
    if not isinstance(body, dict) or response.status_code != 200:
        log.warning("%s answered HTTP %s", name, response.status_code)
        raise DomainError(ErrorCode.WECHAT_UNAVAILABLE)
    errcode = body.get("errcode") or 0
    if errcode != 0:
        code_name = ERRCODES.get(errcode, ErrorCode.WECHAT_UNAVAILABLE)
        level = logging.ERROR if code_name is ErrorCode.WECHAT_UNAVAILABLE and errcode != -1 else logging.INFO
        log.log(level, "%s errcode %s (%s)", name, errcode, str(body.get("errmsg", ""))[:100])
        if code_name is ErrorCode.RATE_LIMITED:  # WeChat's minute quota of this user: "retry next minute"
            raise DomainError(code_name, retry_after=60)
        raise DomainError(code_name)
    return body


def _identity(body: dict, name: str) -> WeChatIdentity:
    openid = body.get("openid")
    if not isinstance(openid, str) or not openid or len(openid) > 64:
        log.warning("%s answered without a usable openid", name)
        raise DomainError(ErrorCode.WECHAT_UNAVAILABLE)
    unionid = body.get("unionid")
    return WeChatIdentity(openid=openid, unionid=unionid if isinstance(unionid, str) else None)


def _require(appid: str | None, secret: str | None, names: str) -> None:
    if not appid or not secret:
        log.error("%s are not set: this WeChat sign-in is off", names)
        raise DomainError(ErrorCode.WECHAT_UNAVAILABLE)


def code_to_session(*, base_url: str, appid: str | None, secret: str | None, code: str,
                    timeout: tuple[float, float]) -> WeChatIdentity:
    """The mini-program's `wx.login` code → its openid."""
    _require(appid, secret, "WECHAT_APPID / WECHAT_SECRET")
    body = _get(base_url=base_url, path="/sns/jscode2session", timeout=timeout,
                params={"appid": appid, "secret": secret, "js_code": code, "grant_type": "authorization_code"})
    return _identity(body, "jscode2session")


def authorize_url(*, open_base: str, appid: str | None, redirect_uri: str, state: str) -> str:
    """Where the 公众号 page sends the browser to get a code (snsapi_base: silent, openid only).

    WeChat reads the parameters in this order and needs the `#wechat_redirect` fragment."""
    if not appid:
        log.error("WECHAT_OA_APPID is not set: WeChat web sign-in is off")
        raise DomainError(ErrorCode.WECHAT_UNAVAILABLE)
    query = urlencode({"appid": appid, "redirect_uri": redirect_uri, "response_type": "code",
                       "scope": "snsapi_base", "state": state})
    return f"{open_base.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"


def oauth_code_to_openid(*, base_url: str, appid: str | None, secret: str | None, code: str,
                         timeout: tuple[float, float]) -> WeChatIdentity:
    """The 公众号 page's OAuth2 code → the citizen's openid under the 公众号 (sns/oauth2/access_token)."""
    _require(appid, secret, "WECHAT_OA_APPID / WECHAT_OA_SECRET")
    body = _get(base_url=base_url, path="/sns/oauth2/access_token", timeout=timeout,
                params={"appid": appid, "secret": secret, "code": code, "grant_type": "authorization_code"})
    if body.get("is_snapshotuser") == 1:
        # The page was opened from a Moments snapshot (快照页): WeChat hands out a virtual openid
        # that is nobody's, and an account made for it could never be found again.
        raise DomainError(ErrorCode.WECHAT_SNAPSHOT_PAGE)
    if body.get("scope") not in (None, "snsapi_base", "snsapi_userinfo"):
        log.warning("oauth2/access_token answered scope %r", body.get("scope"))
        raise DomainError(ErrorCode.WECHAT_UNAVAILABLE)
    return _identity(body, "oauth2/access_token")
