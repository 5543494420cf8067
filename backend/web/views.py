"""Pages for people: the citizen's H5 page, the public 公示 directory, the office dashboard, the
merchant scanner served from merchant_scanner/, and the files of the API docs page (Swagger UI from
npm), all under one set of browser security headers (security_headers)."""
from __future__ import annotations

import base64
import hashlib
import re
from functools import lru_cache
from pathlib import Path

from flask import Blueprint, abort, redirect, render_template, request, send_from_directory

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static/web")

SCANNER_DIR = Path(__file__).resolve().parents[2] / "merchant_scanner"
WEB_NODE_MODULES = Path(__file__).resolve().parent / "node_modules"
# Only what the browser needs (an allow-list): never the tests, package files, scripts or node_modules.
SCANNER_SERVED = {"index.html", "styles.css", "sw.js", "manifest.webmanifest", "icons", "src"}


def _plain(path: str) -> str:
    """The path, if it has no empty, `.` or `..` segment; else 404. send_from_directory only keeps a
    path inside its folder: `src/../package.json` stays inside merchant_scanner/ and would be served,
    although the allow-list never named it. Clients send such paths raw (or as %2e%2e)."""
    if any(segment in {"", ".", ".."} for segment in path.split("/")):
        abort(404)
    return path

# What every page may load: its own origin's files, nothing inline, no plugins, no framing. A page
# that needs more (the scanner) adds script sources through content_security_policy().
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # blob: for photos the page fetched with its bearer token (an objection's evidence is never a plain URL).
    "img-src": "'self' blob:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


def content_security_policy(*script_sources: str) -> str:
    """The Content-Security-Policy header: POLICY, with `script_sources` allowed besides 'self'."""
    directives = {**POLICY, "script-src": " ".join(("'self'", *script_sources))}
    return "; ".join(f"{name} {value}" for name, value in directives.items())


@bp.after_app_request
def security_headers(response):
    """Every HTML page the app serves gets the policy; /api/ (JSON, and /api/docs) is left alone."""
    if request.path.startswith("/api/"):
        return response
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", content_security_policy())
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


@bp.get("/")
def home():
    return redirect("/m/")


@bp.get("/m/")
def citizen_page():
    return render_template("citizen.html")


@bp.get("/gongshi/")
def public_directory():
    """公示: every partner and perk with its conditions, for anyone, without signing in."""
    return render_template("gongshi.html")


@bp.get("/office/")
def office_dashboard():
    return render_template("office.html")


@bp.get("/merchant")
def merchant_office_redirect():
    return redirect("/merchant/")


@bp.get("/merchant/")
def merchant_office():
    """The merchant back-office (devices, cashiers, statements, perks) for the merchant admin."""
    return render_template("merchant.html")


@bp.get("/office/vendor/<path:path>")
def office_vendor(path: str):
    # Only the browser builds of the packages in backend/web/package.json.
    if "/dist/" not in _plain(path):
        abort(404)
    return send_from_directory(WEB_NODE_MODULES, path, max_age=3600)


# The files of Swagger UI that the /api/docs page loads (APIFlask's SWAGGER_UI_* settings, backend/__init__.py).
DOCS_FILES = {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"}


@bp.get("/api/docs/vendor/<filename>")
def docs_vendor(filename: str):
    if filename not in DOCS_FILES:
        abort(404)
    return send_from_directory(WEB_NODE_MODULES / "swagger-ui-dist", filename, max_age=3600)


@bp.get("/scanner")
def scanner_redirect():
    return redirect("/scanner/")


@bp.get("/scanner/")
def scanner_index():
    response = _scanner_file("index.html")
    # The import map is an inline script (browsers do not load one by src): allowed by its hash.
    # The zxing decoder is WebAssembly, compiled in the page: 'wasm-unsafe-eval', not 'unsafe-eval'.
    response.headers["Content-Security-Policy"] = content_security_policy(
        *_inline_script_hashes(SCANNER_DIR / "index.html"), "'wasm-unsafe-eval'")
    return response


@bp.get("/scanner/vendor/<path:path>")
def scanner_vendor(path: str):
    return send_from_directory(SCANNER_DIR / "node_modules", _plain(path), max_age=3600)


@bp.get("/scanner/<path:path>")
def scanner_file(path: str):
    if _plain(path).split("/", 1)[0] not in SCANNER_SERVED:
        abort(404)
    if path == "index.html":
        return scanner_index()
    return _scanner_file(path)


def _scanner_file(path: str):
    response = send_from_directory(SCANNER_DIR, path, max_age=0)
    if path == "sw.js":
        response.headers["Service-Worker-Allowed"] = "/scanner/"
    return response


def _inline_script_hashes(page: Path) -> tuple[str, ...]:
    return _hashes_of(page, page.stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _hashes_of(page: Path, mtime_ns: int) -> tuple[str, ...]:
    """'sha256-…' of each inline script in `page`, as CSP hashes them (the exact text between the tags)."""
    scripts = INLINE_SCRIPT.findall(page.read_text(encoding="utf-8"))
    return tuple(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in scripts)
