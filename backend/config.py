"""Settings, read from the environment in exactly one place.

Every setting has a safe default for the embedded set-up (SQLite file, local Redis), written here and
nowhere else: `from_env()` is the app's config and `gunicorn_from_env()` the server's. Outside demo
mode and tests the app refuses to start without real secrets (`check_production`).

This module imports nothing of the app: gunicorn.conf.py loads it on its own in the master process,
which must not import the app's libraries before a gevent worker has patched the standard library.
"""
from __future__ import annotations

import os
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
DEMO_ONLY_SECRET = "demo-only-secret-never-use-in-production"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _flag(name: str, default: bool = False) -> bool:
    return (_env(name, "1" if default else "0") or "0").lower() in {"1", "true", "yes", "on"}


def database_url_from_env() -> str:
    url = _env("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'xinyongma.sqlite3'}")
    # Hosting platforms hand out postgres:// URLs; SQLAlchemy wants the psycopg 3 driver named.
    for old in ("postgres://", "postgresql://"):
        if url.startswith(old):
            return "postgresql+psycopg://" + url[len(old):]
    return url


def _pool_limits() -> dict:
    """One worker's SQLAlchemy pool: connections kept, and opened beyond them at busy moments."""
    return {"pool_size": int(_env("DATABASE_POOL_SIZE", "5")), "max_overflow": int(_env("DATABASE_MAX_OVERFLOW", "10"))}


def _engine_options(pool_limits: dict) -> dict:
    options = {"pool_pre_ping": _flag("DATABASE_POOL_PRE_PING")}
    if database_url_from_env().startswith("postgresql"):  # SQLite's pools take no size
        options.update(pool_limits)
    return options


# The default limits of sign-in, SMS codes, identity binding and enrolment (backend/auth/limits.py),
# in Flask-Limiter's notation; the environment variable (or app setting) of the same name overrides one.
RATE_LIMITS = {
    "RATELIMIT_SMS_PER_PHONE": "1/minute;5/hour;10/day",
    "RATELIMIT_SMS_PER_IP": "20/hour",
    "RATELIMIT_SMS_LOGIN_PER_PHONE": "10/hour",
    "RATELIMIT_SIGNIN_PER_IP": "30/minute;300/hour",
    "RATELIMIT_PASSWORD_PER_USERNAME": "5/minute;20/hour",
    "RATELIMIT_BIND_PER_ACCOUNT": "5/hour;10/day",
    "RATELIMIT_BIND_PER_IP": "30/hour",
    "RATELIMIT_ENROL_PER_IP": "20/minute",
    "RATELIMIT_REFRESH_PER_IP": "60/minute",
}


def replica_binds() -> dict:
    """DATABASE_REPLICA_URL as Flask-SQLAlchemy's `replica` bind (backend/replica.py), or none."""
    url = _env("DATABASE_REPLICA_URL")
    if url is None:
        return {}
    for old in ("postgres://", "postgresql://"):
        if url.startswith(old):
            url = "postgresql+psycopg://" + url[len(old):]
    # A replica that does not answer must not hold a request for long: the primary answers instead.
    return {"replica": {"url": url, "connect_args": {"connect_timeout": 2}}}


def redis_sentinels() -> list[tuple[str, int]]:
    """REDIS_SENTINELS ("host:port,host:port") as (host, port) pairs; none means REDIS_URL's server directly."""
    return parse_sentinels(_env("REDIS_SENTINELS", ""))


def parse_sentinels(value) -> list[tuple[str, int]]:
    """A comma-separated "host:port" list, or already a list of such strings or (host, port) pairs."""
    items = value.split(",") if isinstance(value, str) else list(value or [])
    pairs = []
    for item in items:
        if isinstance(item, str):
            if not item.strip():
                continue
            host, colon, port = item.strip().rpartition(":")
            item = (host, int(port)) if colon else (port, 26379)  # Sentinel's own default port
        pairs.append((str(item[0]), int(item[1])))
    return pairs


def from_env() -> dict:
    """The Flask config mapping built from the process environment."""
    demo = _flag("DEMO")
    pool_limits = _pool_limits()
    secret = _env("SECRET_KEY", DEMO_ONLY_SECRET if demo else None)
    return {
        "DEMO": demo,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": database_url_from_env(),
        # Off by default: a ping before every checkout is a round trip on every request. After a
        # database restart each stale pooled connection fails one request, and SQLAlchemy then
        # discards the whole pool; turn it on where a proxy silently drops idle connections.
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(pool_limits),
        "REDIS_URL": _env("REDIS_URL", "redis://127.0.0.1:6379/0"),
        # Redis Sentinel (backend/extensions.py, redis_connection): with sentinels set, the app asks them
        # for the master named REDIS_SENTINEL_MASTER, and again after a failover; REDIS_URL then gives
        # only the database number and password. The rate limits' storage uses the same sentinels.
        "REDIS_SENTINELS": redis_sentinels(),
        "REDIS_SENTINEL_MASTER": _env("REDIS_SENTINEL_MASTER", "mymaster"),
        # Key prefix for everything this app keeps in Redis: lets several apps (or test runs) share one server.
        "REDIS_PREFIX": _env("REDIS_PREFIX", "xym:"),
        "PASS_TTL_SECONDS": int(_env("PASS_TTL_SECONDS", "60")),
        "PASS_CLOCK_SKEW_SECONDS": int(_env("PASS_CLOCK_SKEW_SECONDS", "30")),
        # Secret that encrypts the private signing keys and the pass sealing key at rest.
        "PASS_KEY_SECRET": _env("PASS_KEY_SECRET", secret),
        # Pepper of the keyed hash under which ID numbers are stored (HMAC-SHA256).
        "IDENTITY_PEPPER": _env("IDENTITY_PEPPER", secret),
        "ISSUER_CODE": int(_env("ISSUER_CODE", "230184")),
        "ISSUER_NAME": _env("ISSUER_NAME", "肇东市社会信用体系建设领导小组办公室"),
        "OFFLINE_SYNC_WINDOW_HOURS": int(_env("OFFLINE_SYNC_WINDOW_HOURS", "24")),
        "VOID_WINDOW_MINUTES": int(_env("VOID_WINDOW_MINUTES", "15")),
        # The statistics count distinct beneficiaries exactly from the redemptions of a range of at most
        # this many; above it, from the rollups' HyperLogLog sketches where PostgreSQL has them
        # (backend/office/service.py, EXACT_UP_TO: within about 2.3%, marked as approximate).
        "STATS_EXACT_BENEFICIARIES_UP_TO": int(_env("STATS_EXACT_BENEFICIARIES_UP_TO", "20000")),
        # The numeric short code (backend/pass/short_code.py): codes a citizen may ask for, and failed
        # look-ups a device or cashier may make, which is what makes guessing 12 digits hopeless.
        "RATELIMIT_SHORT_CODE_ISSUE_PER_ACCOUNT": _env("RATELIMIT_SHORT_CODE_ISSUE_PER_ACCOUNT", "6/minute;60/hour"),
        "RATELIMIT_SHORT_CODE_PER_PRINCIPAL": _env("RATELIMIT_SHORT_CODE_PER_PRINCIPAL", "10/minute;30/hour"),
        # The verdict warns when the same holder was served at this partner within these minutes.
        "REPEAT_VISIT_MINUTES": int(_env("REPEAT_VISIT_MINUTES", "10")),
        # The pool of one worker's autocommit engine (backend/extensions.py, PostgreSQL): a statement
        # that finds them all in use waits, as for the other pool. gevent workers serve many requests
        # at once: without a bound each could open its own connection.
        "DATABASE_AUTOCOMMIT_CONNECTIONS": int(_env("DATABASE_AUTOCOMMIT_CONNECTIONS", "8")),
        # PostgreSQL: the redemptions one worker records at the same moment share one statement and
        # one commit (backend/group_commit.py); 0 writes each alone (for an A/B, docs/benchmarks.md).
        "REDEMPTION_GROUP_COMMIT": _flag("REDEMPTION_GROUP_COMMIT", default=True),
        # Requests one worker process runs at once (backend/admission.py): as many as its session
        # pool holds; the others wait their turn.
        "WORKER_REQUESTS_AT_ONCE": int(_env("WORKER_REQUESTS_AT_ONCE", str(sum(pool_limits.values())))),
        "ACCESS_TOKEN_MINUTES": int(_env("ACCESS_TOKEN_MINUTES", "15")),
        "REFRESH_TOKEN_DAYS": int(_env("REFRESH_TOKEN_DAYS", "30")),
        "DEMO_TOKEN_HOURS": int(_env("DEMO_TOKEN_HOURS", "12")),
        # 多地互认 (backend/federation/): how long partners may rely on our trust list, and the endpoint it names.
        "FEDERATION_LIST_MAX_AGE_SECONDS": int(_env("FEDERATION_LIST_MAX_AGE_SECONDS", "86400")),
        "FEDERATION_ENDPOINT": _env("FEDERATION_ENDPOINT"),
        # Working days the office has to answer a citizen's objection or complaint (backend/recourse/),
        # counted on the city's holiday calendar of this name (weekends and its days do not count).
        "OBJECTION_DUE_WORKING_DAYS": int(_env("OBJECTION_DUE_WORKING_DAYS", "7")),
        "OBJECTION_CALENDAR": _env("OBJECTION_CALENDAR", "major_holidays"),
        # Photos attached to objections: where their files live (outside the database), how large one
        # may be before it is refused, and how many one objection may carry.
        "OBJECTION_PHOTO_DIR": _env("OBJECTION_PHOTO_DIR", str(INSTANCE_DIR / "objection_photos")),
        "OBJECTION_PHOTO_MAX_BYTES": int(_env("OBJECTION_PHOTO_MAX_BYTES", str(5 << 20))),
        "OBJECTION_PHOTOS_MAX": int(_env("OBJECTION_PHOTOS_MAX", "3")),
        # The case feed (backend/office/cases.py): rows are served once older than this, so that no
        # transaction still open can commit an earlier id behind a consumer's cursor.
        "CASE_FEED_SETTLE_SECONDS": int(_env("CASE_FEED_SETTLE_SECONDS", "5")),
        # Where `flask cases push` delivers the feed (the provincial platform), and the HMAC key.
        "CASE_FEED_URL": _env("CASE_FEED_URL"),
        "CASE_FEED_SECRET": _env("CASE_FEED_SECRET"),
        # A PostgreSQL streaming replica for the office's statistics, exports and case feed
        # (backend/replica.py), and how far behind the primary it may be before they read the primary.
        "SQLALCHEMY_BINDS": replica_binds(),
        "DATABASE_REPLICA_MAX_LAG_SECONDS": float(_env("DATABASE_REPLICA_MAX_LAG_SECONDS", "10")),
        "WECHAT_APPID": _env("WECHAT_APPID"),
        "WECHAT_SECRET": _env("WECHAT_SECRET"),
        "WECHAT_API_BASE": _env("WECHAT_API_BASE", "https://api.weixin.qq.com"),
        # connect, read (seconds): a hung WeChat must not hold a worker thread
        "WECHAT_TIMEOUT": (3.05, 5.0),
        # The 公众号 (Official Account) page's sign-in, OAuth2 snsapi_base (backend/auth/wechat.py):
        # its own appid and secret, the authorize page's host, and the URL WeChat sends the browser
        # back to (the citizen page /m/ on the domain registered as 网页授权域名; default: this
        # request's host).
        "WECHAT_OA_APPID": _env("WECHAT_OA_APPID"),
        "WECHAT_OA_SECRET": _env("WECHAT_OA_SECRET"),
        "WECHAT_OPEN_BASE": _env("WECHAT_OPEN_BASE", "https://open.weixin.qq.com"),
        "WECHAT_OA_REDIRECT_URI": _env("WECHAT_OA_REDIRECT_URI"),
        # Who sends the SMS sign-in codes (backend/auth/sms.py): "log" (demo and tests only) or
        # "tencent" (Tencent Cloud SMS, API 3.0), whose account, signature and template follow.
        "SMS_PROVIDER": _env("SMS_PROVIDER", "log"),
        "TENCENT_SMS_ENDPOINT": _env("TENCENT_SMS_ENDPOINT", "https://sms.tencentcloudapi.com"),
        "TENCENT_SMS_REGION": _env("TENCENT_SMS_REGION", "ap-guangzhou"),
        "TENCENT_SMS_SECRET_ID": _env("TENCENT_SMS_SECRET_ID"),
        "TENCENT_SMS_SECRET_KEY": _env("TENCENT_SMS_SECRET_KEY"),
        "TENCENT_SMS_SDK_APP_ID": _env("TENCENT_SMS_SDK_APP_ID"),
        "TENCENT_SMS_SIGN_NAME": _env("TENCENT_SMS_SIGN_NAME"),
        # The approved template of the sign-in code: "{1} 为您的登录验证码，请于 {2} 分钟内填写…"
        "TENCENT_SMS_TEMPLATE_ID": _env("TENCENT_SMS_TEMPLATE_ID"),
        # The approved template of an objection's new status: "您提交的{1}（编号 {2}）状态已更新为“{3}”…";
        # without it no status SMS is sent (logged and audited), sign-in codes still are.
        "TENCENT_SMS_OBJECTION_TEMPLATE_ID": _env("TENCENT_SMS_OBJECTION_TEMPLATE_ID"),
        "TENCENT_SMS_TIMEOUT": (3.05, 5.0),
        "DEVICE_TOKEN_DAYS": int(_env("DEVICE_TOKEN_DAYS", "365")),
        # The argon2id parameters of new password hashes, by name in argon2.profiles. Not read from
        # the environment: only the tests choose another (CHEAPEST), to spare ~0.2 s per hash.
        "ARGON2_PROFILE": "RFC_9106_LOW_MEMORY",
        "SESSION_WARM_SECONDS": int(_env("SESSION_WARM_SECONDS", "120")),
        # Reverse proxies in front of the app that append to X-Forwarded-For (nginx, a load balancer):
        # the client address is taken that many hops from the right. 0 trusts no header: with no
        # proxy, anyone could claim any address; behind one, 0 puts the whole city in one rate-limit
        # bucket. Never more than the proxies really there, or a client's forged entry is believed.
        "PROXY_HOPS": int(_env("PROXY_HOPS", "0")),
        # The largest request body (Flask's own setting; beyond it 413 payload_too_large): our JSON
        # bodies are a few hundred bytes. The credit platform's CSV upload has its own bound.
        "MAX_CONTENT_LENGTH": int(_env("MAX_CONTENT_LENGTH", str(1 << 20))),
        "IMPORT_MAX_BYTES": int(_env("IMPORT_MAX_BYTES", str(256 << 20))),
        "RATELIMIT_ENABLED": not _flag("RATELIMIT_DISABLED"),
        # Any other RATELIMIT_* variable (Flask-Limiter's settings, or one of RATE_LIMITS above, whose
        # defaults backend/auth/limits.py falls back to) passes through unchanged.
        **{name: value for name, value in os.environ.items()
           if name.startswith("RATELIMIT_") and name != "RATELIMIT_DISABLED" and value},
        "JSON_AS_ASCII": False,
    }


def gunicorn_from_env() -> dict:
    """gunicorn's settings (gunicorn.conf.py assigns each of them), every one overridable from the environment."""
    on_postgresql = database_url_from_env().startswith("postgresql")
    return {
        "bind": f"{_env('HOST', '127.0.0.1')}:{_env('PORT', '8000')}",
        # The app is stateless and CPU-bound in signing and verifying: one worker per core.
        "workers": int(_env("WEB_CONCURRENCY", str(os.cpu_count() or 1))),
        # gevent on PostgreSQL and gthread on SQLite: gunicorn.conf.py says why.
        "worker_class": _env("GUNICORN_WORKER_CLASS", "gevent" if on_postgresql else "gthread"),
        # gevent: connections one worker holds at once (of their requests, WORKER_REQUESTS_AT_ONCE run at once)
        "worker_connections": int(_env("GUNICORN_WORKER_CONNECTIONS", "1000")),
        "threads": int(_env("GUNICORN_THREADS", "4")),  # gthread only
        "accesslog": _env("GUNICORN_ACCESSLOG", "-"),
        # Proxies whose X-Forwarded-For is believed (docs/security.md): the rate limits key on it.
        "forwarded_allow_ips": _env("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        # One listening socket per worker (docs/running.md); GUNICORN_REUSE_PORT=0 shares one.
        "reuse_port": _flag("GUNICORN_REUSE_PORT", default=True),
    }


SMS_PROVIDERS = ("log", "tencent")
TENCENT_SMS_REQUIRED = ("TENCENT_SMS_SECRET_ID", "TENCENT_SMS_SECRET_KEY", "TENCENT_SMS_SDK_APP_ID",
                        "TENCENT_SMS_SIGN_NAME", "TENCENT_SMS_TEMPLATE_ID")


class ConfigError(RuntimeError):
    """The app was asked to start in a way that would be unsafe."""


def check_production(config: dict) -> None:
    """Refuse to serve real users with demo secrets or none at all."""
    if config.get("DEMO") or config.get("TESTING"):
        return
    missing = [name for name in ("SECRET_KEY", "PASS_KEY_SECRET", "IDENTITY_PEPPER") if not config.get(name)]
    if missing:
        raise ConfigError(f"missing required settings outside demo mode: {', '.join(missing)}")
    if DEMO_ONLY_SECRET in {config.get("SECRET_KEY"), config.get("PASS_KEY_SECRET"), config.get("IDENTITY_PEPPER")}:
        raise ConfigError("the demo secret must never be used outside demo mode")
    if config.get("SMS_PROVIDER", "log") not in SMS_PROVIDERS:
        raise ConfigError(f"SMS_PROVIDER must be one of {', '.join(SMS_PROVIDERS)}")
    if config.get("SMS_PROVIDER") == "tencent":
        missing = [name for name in TENCENT_SMS_REQUIRED if not config.get(name)]
        if missing:
            raise ConfigError(f"SMS_PROVIDER=tencent needs: {', '.join(missing)}")
