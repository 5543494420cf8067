"""The 公众号 page's WeChat sign-in (OAuth2 snsapi_base) against a local server speaking the protocol:
the redirect to the authorize page with a state, WeChat's redirect back with a code, and the
sns/oauth2/access_token exchange for the openid, its error codes mapped to ours."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import requests
from sqlalchemy import select

from backend.auth.models import CitizenAccount
from backend.extensions import db

from .fake_wechat import OA_APPID, OA_SECRET

COOKIE = "xym_wechat_state"


def start(client):
    """Open the sign-in link as a browser would: our 302, then WeChat's authorize page and its 302."""
    ours = client.get("/api/auth/wechat/web")
    assert ours.status_code == 302
    back = requests.get(ours.headers["Location"], allow_redirects=False, timeout=5)
    assert back.status_code == 302, back.text
    query = parse_qs(urlparse(back.headers["Location"]).query)
    return ours, back.headers["Location"], query["code"][0], query["state"][0]


def login(client, code: str, state: str):
    return client.post("/api/auth/wechat/web/login", json={"code": code, "state": state})


def test_the_sign_in_link_goes_to_the_authorize_page_with_a_state_kept_in_a_cookie(client, wechat):
    ours = client.get("/api/auth/wechat/web", base_url="https://xym.example.cn")
    url = urlparse(ours.headers["Location"])
    assert (url.path, url.fragment) == ("/connect/oauth2/authorize", "wechat_redirect")
    query = parse_qs(url.query)
    assert list(query) == ["appid", "redirect_uri", "response_type", "scope", "state"]  # WeChat's order
    assert query["appid"] == [OA_APPID] and query["scope"] == ["snsapi_base"] and query["response_type"] == ["code"]
    assert query["redirect_uri"] == ["https://xym.example.cn/m/"]
    cookie = ours.headers["Set-Cookie"]
    state = query["state"][0]
    assert len(state) >= 32 and f"{COOKIE}={state}" in cookie
    for flag in ("HttpOnly", "Secure", "SameSite=Lax", "Path=/api/auth/wechat/web", "Max-Age=600"):
        assert flag in cookie, flag


def test_a_configured_redirect_uri_is_used_as_is(app, client, wechat, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_OA_REDIRECT_URI", "https://xinyong.zhaodong.gov.cn/m/")
    query = parse_qs(urlparse(client.get("/api/auth/wechat/web").headers["Location"]).query)
    assert query["redirect_uri"] == ["https://xinyong.zhaodong.gov.cn/m/"]


def test_the_whole_round_signs_in_once_per_openid_and_spends_the_state(app, client, wechat):
    wechat.user_openid = "oa-alice"
    _, back_to, code, state = start(client)
    assert urlparse(back_to).path == "/m/"
    first = login(client, code, state)
    assert first.status_code == 200 and first.json["token_type"] == "Bearer", first.json
    assert wechat.requests[-1] == {"path": "/sns/oauth2/access_token", "appid": OA_APPID, "secret": OA_SECRET,
                                   "code": "ok-oa-alice", "grant_type": "authorization_code"}
    assert f"{COOKIE}=;" in first.headers["Set-Cookie"]  # the state is spent with its sign-in
    assert login(client, code, state).json["code"] == "wechat_state_invalid"
    _, _, code, state = start(client)
    assert login(client, code, state).status_code == 200
    with app.app_context():
        accounts = list(db.session.scalars(select(CitizenAccount).where(CitizenAccount.wechat_oa_openid == "oa-alice")))
        assert len(accounts) == 1 and accounts[0].wechat_openid is None  # the mini-program's openid is another
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {first.json['access_token']}"})
    assert me.json["wechat"] is True


def test_a_code_with_another_state_or_without_the_cookie_is_refused(client, wechat):
    _, _, code, state = start(client)
    response = login(client, code, "someone-elses-state")
    assert (response.status_code, response.json["code"]) == (400, "wechat_state_invalid")
    assert response.json["message"] == "登录链接已失效，请重新打开页面登录"
    client.delete_cookie(COOKIE, path="/api/auth/wechat/web")
    assert login(client, code, state).json["code"] == "wechat_state_invalid"
    assert not any(r["path"] == "/sns/oauth2/access_token" for r in wechat.requests)  # never asked WeChat


def test_wechat_error_codes_map_to_stable_chinese_errors(client, wechat):
    expected = {"invalid": (401, "wechat_code_invalid"), "used": (401, "wechat_code_invalid"),
                "expired": (401, "wechat_code_invalid"), "quota": (429, "rate_limited"),
                "risky": (403, "wechat_user_blocked"), "busy": (503, "wechat_unavailable"),
                "snapshot": (403, "wechat_snapshot_page"), "garbage": (503, "wechat_unavailable"),
                "http500": (503, "wechat_unavailable"), "slow": (503, "wechat_unavailable")}
    for code, (status, problem) in expected.items():
        _, _, _, state = start(client)
        response = login(client, code, state)
        assert (response.status_code, response.json["code"]) == (status, problem), code
        assert response.mimetype == "application/problem+json"
        assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json["message"]), code


def test_a_snapshot_page_creates_no_account(app, client, wechat):
    _, _, _, state = start(client)
    login(client, "snapshot", state)
    with app.app_context():
        assert db.session.scalar(select(CitizenAccount).where(CitizenAccount.wechat_oa_openid == "virtual-openid")) is None


def test_wrong_secret_or_missing_settings_are_unavailable(app, client, wechat, monkeypatch):
    _, _, code, state = start(client)
    monkeypatch.setitem(app.config, "WECHAT_OA_SECRET", "wrong")
    assert login(client, code, state).json["code"] == "wechat_unavailable"
    monkeypatch.setitem(app.config, "WECHAT_OA_APPID", None)
    response = client.get("/api/auth/wechat/web")
    assert (response.status_code, response.json["code"]) == (503, "wechat_unavailable")


def test_the_page_is_told_whether_wechat_web_sign_in_is_set_up(app, client, wechat, monkeypatch):
    assert client.get("/api/auth/methods").json == {"sms": True, "wechat_web": True}
    monkeypatch.setitem(app.config, "WECHAT_OA_SECRET", None)
    assert client.get("/api/auth/methods").json == {"sms": True, "wechat_web": False}
