"""Pages for people: the citizen's H5 page, and the merchant scanner served from merchant_scanner/."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, redirect, render_template, send_from_directory

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static/web")

SCANNER_DIR = Path(__file__).resolve().parents[2] / "merchant_scanner"
WEB_NODE_MODULES = Path(__file__).resolve().parent / "node_modules"
# Only what the browser needs: never the tests, package files or the whole of node_modules by listing.
SCANNER_PRIVATE = {"tests", "node_modules", "package.json", "package-lock.json", ".gitignore", "scripts", "README.md"}


@bp.get("/")
def home():
    return redirect("/m/")


@bp.get("/m/")
def citizen_page():
    return render_template("citizen.html")


@bp.get("/office/")
def office_dashboard():
    return render_template("office.html")


@bp.get("/office/vendor/<path:path>")
def office_vendor(path: str):
    # Only the browser builds of the packages in backend/web/package.json.
    if "/dist/" not in path:
        abort(404)
    return send_from_directory(WEB_NODE_MODULES, path, max_age=3600)


@bp.get("/scanner")
def scanner_redirect():
    return redirect("/scanner/")


@bp.get("/scanner/")
def scanner_index():
    return _scanner_file("index.html")


@bp.get("/scanner/vendor/<path:path>")
def scanner_vendor(path: str):
    response = send_from_directory(SCANNER_DIR / "node_modules", path, max_age=3600)
    return response


@bp.get("/scanner/<path:path>")
def scanner_file(path: str):
    if path.split("/", 1)[0] in SCANNER_PRIVATE:
        abort(404)
    return _scanner_file(path)


def _scanner_file(path: str):
    response = send_from_directory(SCANNER_DIR, path, max_age=0)
    if path == "sw.js":
        response.headers["Service-Worker-Allowed"] = "/scanner/"
    return response
