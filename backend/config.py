"""Settings, read from the environment in exactly one place.

Every setting has a safe default for the embedded set-up (SQLite file, local Redis). Outside demo
mode and tests the app refuses to start without real secrets (`Settings.check_production`).
"""
from __future__ import annotations

import os
from pathlib import Path

INSTANCE_DIR = Path(__file__).resolve().parent.parent / "instance"
DEMO_ONLY_SECRET = "demo-only-secret-never-use-in-production"


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _flag(name: str) -> bool:
    return (_env(name, "0") or "0").lower() in {"1", "true", "yes", "on"}


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


def _engine_options() -> dict:
    options = {"pool_pre_ping": _flag("DATABASE_POOL_PRE_PING")}
    if database_url_from_env().startswith("postgresql"):  # SQLite's pools take no size
        options.update(_pool_limits())
    return options


def from_env() -> dict:
    """The Flask config mapping built from the process environment."""
    demo = _flag("DEMO")
    secret = _env("SECRET_KEY", DEMO_ONLY_SECRET if demo else None)
    return {
        "DEMO": demo,
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": database_url_from_env(),
        # Off by default: a ping before every checkout is a round trip on every request. After a
        # database restart each stale pooled connection fails one request, and SQLAlchemy then
        # discards the whole pool; turn it on where a proxy silently drops idle connections.
        "SQLALCHEMY_ENGINE_OPTIONS": _engine_options(),
        "REDIS_URL": _env("REDIS_URL", "redis://127.0.0.1:6379/0"),
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
        # Requests one worker process runs at once (backend/admission.py): as many as its session
        # pool holds; the others wait their turn.
        "WORKER_REQUESTS_AT_ONCE": int(_env("WORKER_REQUESTS_AT_ONCE", str(sum(_pool_limits().values())))),
        "ACCESS_TOKEN_MINUTES": int(_env("ACCESS_TOKEN_MINUTES", "15")),
        "REFRESH_TOKEN_DAYS": int(_env("REFRESH_TOKEN_DAYS", "30")),
        "DEMO_TOKEN_HOURS": int(_env("DEMO_TOKEN_HOURS", "12")),
        # 多地互认 (backend/federation/): how long partners may rely on our trust list, and the endpoint it names.
        "FEDERATION_LIST_MAX_AGE_SECONDS": int(_env("FEDERATION_LIST_MAX_AGE_SECONDS", "86400")),
        "FEDERATION_ENDPOINT": _env("FEDERATION_ENDPOINT"),
        # Days the office has to answer a citizen's objection or complaint (backend/recourse/).
        "OBJECTION_DUE_DAYS": int(_env("OBJECTION_DUE_DAYS", "7")),
        # The case feed (backend/office/cases.py): rows are served once older than this, so that no
        # transaction still open can commit an earlier id behind a consumer's cursor.
        "CASE_FEED_SETTLE_SECONDS": int(_env("CASE_FEED_SETTLE_SECONDS", "5")),
        # Where `flask cases push` delivers the feed (the provincial platform), and the HMAC key.
        "CASE_FEED_URL": _env("CASE_FEED_URL"),
        "CASE_FEED_SECRET": _env("CASE_FEED_SECRET"),
        "WECHAT_APPID": _env("WECHAT_APPID"),
        "WECHAT_SECRET": _env("WECHAT_SECRET"),
        "WECHAT_API_BASE": _env("WECHAT_API_BASE", "https://api.weixin.qq.com"),
        "DEVICE_TOKEN_DAYS": int(_env("DEVICE_TOKEN_DAYS", "365")),
        "SESSION_WARM_SECONDS": int(_env("SESSION_WARM_SECONDS", "120")),
        "RATELIMIT_ENABLED": not _flag("RATELIMIT_DISABLED"),
        # Any other RATELIMIT_* variable (Flask-Limiter's settings, or one of the limits named in
        # backend/auth/limits.py such as RATELIMIT_SMS_PER_PHONE) passes through unchanged.
        **{name: value for name, value in os.environ.items()
           if name.startswith("RATELIMIT_") and name != "RATELIMIT_DISABLED" and value},
        "JSON_AS_ASCII": False,
    }


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
