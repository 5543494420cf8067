"""The WeChat mini-program sign-in: `code` from `wx.login` → openid, through the documented jscode2session.

    GET {WECHAT_API_BASE}/sns/jscode2session?appid=…&secret=…&js_code=…&grant_type=authorization_code
    → {"openid": …, "session_key": …, "unionid": …}  or  {"errcode": …, "errmsg": …}

The session_key is dropped at once: nothing here needs to decrypt WeChat's user data, and a key
that is never stored cannot leak. WeChat's error codes map to ours; anything unexpected (network,
timeout, non-JSON, an unknown errcode such as a wrong app secret) is `wechat_unavailable` and is
logged for the operators without the secret or the code.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import requests

from ..errors import DomainError, ErrorCode

log = logging.getLogger(__name__)

ERRCODES = {
    40029: ErrorCode.WECHAT_CODE_INVALID,  # invalid js_code
    40163: ErrorCode.WECHAT_CODE_INVALID,  # code already used
    45011: ErrorCode.RATE_LIMITED,  # API minute quota of this user reached
    40226: ErrorCode.WECHAT_USER_BLOCKED,  # high-risk user, blocked by WeChat
    -1: ErrorCode.WECHAT_UNAVAILABLE,  # system busy
}


@dataclass(frozen=True)
class WeChatIdentity:
    openid: str
    unionid: str | None


def code_to_session(*, base_url: str, appid: str | None, secret: str | None, code: str,
                    timeout: tuple[float, float]) -> WeChatIdentity:
    if not appid or not secret:
        log.error("WECHAT_APPID / WECHAT_SECRET are not set: WeChat sign-in is off")
        raise DomainError(ErrorCode.WECHAT_UNAVAILABLE)
    try:
        response = requests.get(
            base_url.rstrip("/") + "/sns/jscode2session",
            params={"appid": appid, "secret": secret, "js_code": code, "grant_type": "authorization_code"},
            timeout=timeout, allow_redirects=False,
        )
        body = response.json()  # WeChat answers JSON, sometimes labelled text/plain
    except (requests.RequestException, ValueError) as error:
        log.warning("jscode2session failed: %s", type(error).__name__)
        raise DomainError(ErrorCode.WECHAT_UNAVAILABLE) from None
    if not isinstance(body, dict) or response.status_code != 200:
        log.warning("jscode2session answered HTTP %s", response.status_code)
        raise DomainError(ErrorCode.WECHAT_UNAVAILABLE)
    errcode = body.get("errcode") or 0
    if errcode != 0:
        code_name = ERRCODES.get(errcode, ErrorCode.WECHAT_UNAVAILABLE)
        level = logging.ERROR if code_name is ErrorCode.WECHAT_UNAVAILABLE and errcode != -1 else logging.INFO
        log.log(level, "jscode2session errcode %s (%s)", errcode, str(body.get("errmsg", ""))[:100])
        raise DomainError(code_name)
    openid = body.get("openid")
    if not isinstance(openid, str) or not openid or len(openid) > 64:
        log.warning("jscode2session answered without a usable openid")
        raise DomainError(ErrorCode.WECHAT_UNAVAILABLE)
    unionid = body.get("unionid")
    return WeChatIdentity(openid=openid, unionid=unionid if isinstance(unionid, str) else None)
