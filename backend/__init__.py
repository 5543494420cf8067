"""The 信用码 backend: `create_app(config=None)` builds and wires a fresh app; nothing happens at import."""
from __future__ import annotations

import importlib
import logging
import types

from apiflask import APIFlask
from flask.sessions import SessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from . import admission, changefeed, inputs, openapi, watched_cache
from . import config as settings
from .errors import register_error_handlers
from .extensions import autocommit, db, limiter, migrate, rate_limit_storage, redis_store

# Blueprints are loaded by module name so that `backend.pass`, a keyword, needs no special case.
BLUEPRINT_MODULES = (
    "backend.health",
    "backend.auth",
    "backend.pass",
    "backend.merchants",
    "backend.credit",
    "backend.office",
    "backend.recourse",
    "backend.federation",
    "backend.city",
    "backend.web",
)

# Modules whose models must be known to SQLAlchemy (and Alembic) even before a request arrives.
MODEL_MODULES = (
    "backend.credit.models",
    "backend.merchants.models",
    "backend.auth.models",
    "backend.pass.models",
    "backend.office.models",
    "backend.audit",
    "backend.city.models",
    "backend.recourse.models",
    "backend.federation.models",
)

CLI_MODULES = ("backend.demo", "backend.city.cli", "backend.pass.cli", "backend.credit.cli", "backend.auth.cli",
               "backend.office.cli", "backend.federation.cli", "backend.merchants.partitions")


class CreditPassApp(APIFlask):
    """APIFlask, remembering which functions are coroutines.

    Flask and Flask-HTTPAuth ask `ensure_sync` of the view and of each hook on every request, and
    each answer walks `inspect.iscoroutinefunction` (~10 times a redemption, ~2% of its CPU). A plain
    function is a coroutine function or not for good, so the answer is kept per function; other
    callables (bound methods, partials) are asked every time, as before. Bounded, should a closure
    made per request (`after_this_request`) come by."""

    def __init__(self, *args, **kwargs):
        self._sync_functions: dict = {}
        super().__init__(*args, **kwargs)

    def ensure_sync(self, func):
        if type(func) is not types.FunctionType:
            return super().ensure_sync(func)
        known = self._sync_functions.get(func)
        if known is None:
            if len(self._sync_functions) >= 4096:
                self._sync_functions.clear()
            known = self._sync_functions[func] = super().ensure_sync(func)
        return known


def create_app(config: dict | None = None) -> APIFlask:
    app = CreditPassApp(__name__, title="信用码 API", version="1.0", spec_path="/api/openapi.json", docs_path="/api/docs")
    register_config(app, config)
    register_proxies(app)
    app.session_interface = NoCookieSession()
    inputs.init_app(app)  # before the rate limits read a body and before the routes are added
    register_extensions(app)
    admission.init_app(app)
    register_blueprints(app)
    register_error_handlers(app)
    openapi.init_app(app)
    register_cli(app)
    register_change_feed(app)
    return app


class NoCookieSession(SessionInterface):
    """Callers authenticate with bearer tokens; Flask's signed-cookie session is never used, and
    opening it built a signing serializer on every request, the ping included."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response):
        return None


def register_config(app: APIFlask, config: dict | None) -> None:
    app.config.update(settings.from_env())
    app.config.update(
        VALIDATION_ERROR_STATUS_CODE=422,
        SECURITY_SCHEMES={"BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        INFO={"description": "信易+ 信用码：签发、验证与核销。错误统一为 application/problem+json。"},
        # /api/docs loads Swagger UI from this server (swagger-ui-dist from npm, backend/web), not from a
        # foreign CDN: the page works offline and inside China. No validator badge: it calls out too.
        SWAGGER_UI_CSS="/api/docs/vendor/swagger-ui.css",
        SWAGGER_UI_BUNDLE_JS="/api/docs/vendor/swagger-ui-bundle.js",
        SWAGGER_UI_STANDALONE_PRESET_JS="/api/docs/vendor/swagger-ui-standalone-preset.js",
        DOCS_FAVICON="/api/docs/vendor/favicon-32x32.png",
        SWAGGER_UI_CONFIG={"validatorUrl": None},
    )
    if config:
        app.config.update(config)
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    settings.check_production(app.config)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        settings.INSTANCE_DIR.mkdir(exist_ok=True)
    logging.basicConfig(level=logging.INFO)


def register_proxies(app: APIFlask) -> None:
    """Behind PROXY_HOPS trusted proxies, the client's address and scheme come from their headers
    (rate limits per citizen, docs/security.md); with none, the headers are ignored."""
    if hops := app.config["PROXY_HOPS"]:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def register_extensions(app: APIFlask) -> None:
    for module in MODEL_MODULES:
        importlib.import_module(module)
    db.init_app(app)
    autocommit.init_app(app)
    migrate.init_app(app, db, directory=str(settings.INSTANCE_DIR.parent / "migrations"),
                     render_as_batch=True)  # batch mode lets ALTER TABLE migrations run on SQLite too
    redis_store.init_app(app)
    # The same Redis as the app's client (with Sentinel: the same sentinels, as redis+sentinel://).
    storage_uri, storage_options = rate_limit_storage(app.config)
    app.config.setdefault("RATELIMIT_STORAGE_URI", storage_uri)
    # When Redis is down, limits fall back to per-process memory rather than failing requests.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    # The key prefix is the storage's, which init_app builds anew for each app: the limiter keeps the
    # first app's RATELIMIT_KEY_PREFIX for good, so a later app in the process would count under it.
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", storage_options)
    limiter.init_app(app)


def register_blueprints(app: APIFlask) -> None:
    for module in BLUEPRINT_MODULES:
        app.register_blueprint(importlib.import_module(module).bp)


def register_cli(app: APIFlask) -> None:
    for module in CLI_MODULES:
        for command in importlib.import_module(module).COMMANDS:
            app.cli.add_command(command)


def register_change_feed(app: APIFlask) -> None:
    """Last: every module holding a watched cache is imported by now, so the feed carries all their generations."""
    from .auth.sessions import RevokedSessions

    changefeed.init_app(app, consumers=(RevokedSessions(app), watched_cache.Generations()))
