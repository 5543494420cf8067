"""A local HTTP server that speaks WeChat's documented `jscode2session` (mini-program) and the
公众号's web sign-in (`/connect/oauth2/authorize` and `/sns/oauth2/access_token`), error answers included.

The `js_code` (or the web `code`) decides the answer, so one server serves every test:
    ok-<openid>          {"openid": <openid>, "session_key": ..., "unionid": ...}
    used / invalid       errcode 40163 / 40029
    quota                errcode 45011 (minute quota of the user)
    risky                errcode 40226 (high-risk user)
    busy                 errcode -1 (system busy)
    slow                 answers after `slow_seconds`
    garbage              200 with a body that is not JSON
    http500              HTTP 500
    expired              errcode 42003 (web: oauth code expired)
    snapshot             web: an openid with is_snapshotuser 1 (a Moments snapshot page)
A wrong appid, secret or grant_type gets errcode 40013 / 40125 / 40097, as WeChat does. The
mini-program and the 公众号 have their own appid and secret (APPID/SECRET, OA_APPID/OA_SECRET).

The authorize page signs in `user_openid` silently, as snsapi_base does: it sends the browser to
redirect_uri?code=ok-<user_openid>&state=<state>; a wrong appid, scope or missing
`#wechat_redirect` is refused with WeChat's error page.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlparse

APPID = "wx-test-appid"
SECRET = "wx-test-secret"
OA_APPID = "wx-test-oa-appid"
OA_SECRET = "wx-test-oa-secret"
ERRORS = {"invalid": (40029, "invalid code"), "used": (40163, "code been used"),
          "quota": (45011, "api minute-quota reach limit  mustslower  retry next minute"),
          "risky": (40226, "high risk user"), "busy": (-1, "system error"),
          "expired": (42003, "code expired")}


class FakeWeChat:
    def __init__(self, slow_seconds: float = 2.0, user_openid: str = "oa-openid-user"):
        self.requests: list[dict] = []
        self.slow_seconds = slow_seconds
        self.user_openid = user_openid  # who is signed in to WeChat on the "phone" of the authorize page
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append({"path": url.path, **query})
                if url.path == "/connect/oauth2/authorize":
                    return self._authorize(query)
                if url.path == "/sns/jscode2session":
                    appid, secret, code = APPID, SECRET, query.get("js_code", "")
                elif url.path == "/sns/oauth2/access_token":
                    appid, secret, code = OA_APPID, OA_SECRET, query.get("code", "")
                else:
                    return self._send(404, b"not found", "text/plain")
                if query.get("appid") != appid:
                    return self._json({"errcode": 40013, "errmsg": "invalid appid"})
                if query.get("secret") != secret:
                    return self._json({"errcode": 40125, "errmsg": "invalid appsecret"})
                if query.get("grant_type") != "authorization_code":
                    return self._json({"errcode": 40097, "errmsg": "invalid args"})
                if code.startswith("ok-") and url.path == "/sns/oauth2/access_token":
                    return self._json({"access_token": "ACCESS-" + code, "expires_in": 7200,
                                       "refresh_token": "REFRESH-" + code, "openid": code[3:],
                                       "scope": "snsapi_base", "is_snapshotuser": 0}, "text/plain")
                if code == "snapshot" and url.path == "/sns/oauth2/access_token":
                    return self._json({"access_token": "ACCESS", "expires_in": 7200, "refresh_token": "R",
                                       "openid": "virtual-openid", "scope": "snsapi_base", "is_snapshotuser": 1})
                if code.startswith("ok-"):
                    # WeChat labels this JSON as text/plain; the client must not depend on the header.
                    return self._json({"openid": code[3:], "session_key": "tiihtNczf5v6AKRyjwEUhQ==",
                                       "unionid": "union-" + code[3:]}, "text/plain")
                if code in ERRORS:
                    errcode, errmsg = ERRORS[code]
                    return self._json({"errcode": errcode, "errmsg": errmsg})
                if code == "slow":
                    time.sleep(fake.slow_seconds)
                    return self._json({"openid": "slow", "session_key": "x"})
                if code == "garbage":
                    return self._send(200, b"<html>gateway</html>", "text/html")
                if code == "http500":
                    return self._send(500, b"oops", "text/plain")
                return self._json({"errcode": 40029, "errmsg": "invalid code"})

            def _authorize(self, query: dict):
                # The browser never sends the fragment; WeChat's page needs it in the link, so
                # the client's link is checked in the test (authorize_url), not here.
                if query.get("appid") != OA_APPID or query.get("response_type") != "code":
                    return self._send(200, "<p>参数错误 (10003)</p>".encode(), "text/html; charset=utf-8")
                if query.get("scope") not in ("snsapi_base", "snsapi_userinfo") or "redirect_uri" not in query:
                    return self._send(200, "<p>scope 参数错误或没有 scope 权限</p>".encode(), "text/html; charset=utf-8")
                separator = "&" if "?" in query["redirect_uri"] else "?"
                location = (f"{query['redirect_uri']}{separator}code=ok-{fake.user_openid}"
                            f"&state={quote(query.get('state', ''))}")
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _json(self, body: dict, content_type: str = "application/json"):
                self._send(200, json.dumps(body).encode(), content_type)

            def _send(self, status: int, payload: bytes, content_type: str):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # serve_forever looks for shutdown() every poll_interval (0.5 s by default): each test would wait that long.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
