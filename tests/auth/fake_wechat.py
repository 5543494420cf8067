"""A local HTTP server that speaks WeChat's documented `jscode2session`, error answers included.

The `js_code` decides the answer, so one server serves every test:
    ok-<openid>          {"openid": <openid>, "session_key": ..., "unionid": ...}
    used / invalid       errcode 40163 / 40029
    quota                errcode 45011 (minute quota of the user)
    risky                errcode 40226 (high-risk user)
    busy                 errcode -1 (system busy)
    slow                 answers after `slow_seconds`
    garbage              200 with a body that is not JSON
    http500              HTTP 500
A wrong appid, secret or grant_type gets errcode 40013 / 40125 / 40097, as WeChat does.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

APPID = "wx-test-appid"
SECRET = "wx-test-secret"
ERRORS = {"invalid": (40029, "invalid code"), "used": (40163, "code been used"),
          "quota": (45011, "api minute-quota reach limit  mustslower  retry next minute"),
          "risky": (40226, "high risk user"), "busy": (-1, "system error")}


class FakeWeChat:
    def __init__(self, slow_seconds: float = 2.0):
        self.requests: list[dict] = []
        self.slow_seconds = slow_seconds
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep the test output clean
                pass

            def do_GET(self):
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                fake.requests.append({"path": url.path, **query})
                if url.path != "/sns/jscode2session":
                    return self._send(404, b"not found", "text/plain")
                code = query.get("js_code", "")
                if query.get("appid") != APPID:
                    return self._json({"errcode": 40013, "errmsg": "invalid appid"})
                if query.get("secret") != SECRET:
                    return self._json({"errcode": 40125, "errmsg": "invalid appsecret"})
                if query.get("grant_type") != "authorization_code":
                    return self._json({"errcode": 40097, "errmsg": "invalid args"})
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
