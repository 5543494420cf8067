"""The pages people open: the scanner is served from merchant_scanner/ without its private files."""
from __future__ import annotations

import base64
import hashlib
import http.client
import re
import threading

import pytest
from werkzeug.serving import make_server

from backend.web.views import INLINE_SCRIPT, SCANNER_DIR


def fetch(client, path):
    """GET and close the response (file responses hold an open file until closed)."""
    with client.get(path) as response:
        return response.status_code, response.headers, response.get_data(as_text=True)


def test_scanner_shell_and_service_worker_are_served(client):
    status, _, body = fetch(client, "/scanner/")
    assert status == 200 and 'lang="zh-CN"' in body
    status, headers, _ = fetch(client, "/scanner/sw.js")
    assert status == 200 and headers["Service-Worker-Allowed"] == "/scanner/"
    assert fetch(client, "/scanner")[0] in (301, 302, 308)


@pytest.mark.parametrize("path", ["package.json", "package-lock.json", "README.md", "tests/verify.test.mjs",
                                  "node_modules/idb/package.json", "../backend/config.py", "..%2Fwsgi.py"])
def test_scanner_private_files_are_not_served(client, path):
    assert fetch(client, f"/scanner/{path}")[0] == 404


def test_scanner_vendor_files_come_from_npm(client):
    status, _, body = fetch(client, "/scanner/vendor/idb/build/index.js")
    assert status == 200 and "indexedDB" in body


def test_every_source_file_of_the_scanner_is_precached_by_the_service_worker(client):
    """A module missing from sw.js's list breaks the scanner offline (the split made many more)."""
    _, _, sw = fetch(client, "/scanner/sw.js")
    shell = set(re.findall(r"'\./(src/[^']+\.js)'", sw))
    on_disk = {p.relative_to(SCANNER_DIR).as_posix() for p in (SCANNER_DIR / "src").rglob("*.js")}
    assert on_disk - shell == set(), "add these to SHELL in merchant_scanner/sw.js (and bump VERSION)"
    assert shell - on_disk == set()


PAGES = ["/m/", "/gongshi/", "/office/", "/scanner/", "/scanner/index.html"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_the_browser_security_headers(client, path):
    status, headers, _ = fetch(client, path)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    policy = directives(headers["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and headers["X-Frame-Options"] == "DENY"
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert "'unsafe-eval'" not in policy["script-src"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/m/", "/gongshi/", "/office/"])
def test_the_citizen_and_office_pages_have_no_inline_script_and_allow_none(client, path):
    _, headers, body = fetch(client, path)
    assert directives(headers["Content-Security-Policy"])["script-src"] == ["'self'"]
    assert INLINE_SCRIPT.findall(body) == []


def test_the_scanners_one_inline_script_the_import_map_is_allowed_by_its_hash_only(client):
    _, headers, body = fetch(client, "/scanner/")
    [import_map] = INLINE_SCRIPT.findall(body)
    assert '"imports"' in import_map
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    # The zxing decoder is WebAssembly: 'wasm-unsafe-eval' and nothing wider.
    assert directives(headers["Content-Security-Policy"])["script-src"] == [
        "'self'", f"'sha256-{digest}'", "'wasm-unsafe-eval'"]


def test_scripts_are_not_sniffed_and_the_api_is_left_to_itself(client):
    _, headers, _ = fetch(client, "/static/web/api.js")
    assert headers["X-Content-Type-Options"] == "nosniff" and "Content-Security-Policy" not in headers
    _, headers, _ = fetch(client, "/api/partners")
    assert "Content-Security-Policy" not in headers


@pytest.mark.parametrize("path", ["/m/", "/gongshi/"])
def test_the_citizen_pages_have_no_inline_style_or_handler_and_no_sign_in_is_needed(client, path):
    """The policy refuses inline styles and on*= handlers: they would silently do nothing."""
    status, _, body = fetch(client, path)
    assert status == 200 and 'lang="zh-CN"' in body
    assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", body)


def test_the_citizen_pages_colours_meet_wcag_aa_contrast(client):
    """Text colours of citizen.css against white and the page grey: at least 4.5:1 (the hint was #888)."""
    _, _, css = fetch(client, "/static/web/citizen.css")
    colours = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", css))
    for name in ("green", "red", "amber", "hint", "link"):
        assert contrast(colours[name], "#ffffff") >= 4.5, name
        assert contrast(colours[name], "#ededed") >= 4.5, name
    assert contrast(colours["green"], colours["green-soft"]) >= 4.5
    assert contrast(colours["red"], colours["red-soft"]) >= 4.5
    assert contrast(colours["amber"], colours["amber-soft"]) >= 4.5


def contrast(foreground: str, background: str) -> float:
    """WCAG 2 contrast ratio of two #rrggbb colours."""
    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


@pytest.fixture
def raw_get(app):
    """raw_get(path) -> status of a GET sent exactly as written, to a real server: test clients and
    browsers remove dot segments before sending, an attacker's client does not."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def _get(path: str) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    yield _get
    server.shutdown()
    thread.join()


@pytest.mark.parametrize("path", [
    "/scanner/src/../package.json", "/scanner/src/%2e%2e/package.json", "/scanner/src/%2E%2E/tests/verify.test.mjs",
    "/scanner/icons/../README.md", "/scanner/src/./../package-lock.json", "/scanner/src%2f..%2fpackage.json",
    "/scanner/vendor/idb/../../package.json", "/scanner/vendor/idb/../idb/package.json",
    "/office/vendor/echarts/dist/../package.json",
])
def test_dot_segments_never_reach_a_private_file(raw_get, path):
    assert raw_get(path) == 404


def test_the_raw_server_serves_what_the_browser_needs(raw_get):
    for path in ("/scanner/", "/scanner/src/app.js", "/scanner/icons/icon-192.png", "/scanner/manifest.webmanifest",
                 "/scanner/vendor/idb/build/index.js", "/office/vendor/echarts/dist/echarts.min.js"):
        assert raw_get(path) == 200, path


def test_the_api_docs_load_only_files_of_this_server(client):
    # Swagger UI from npm (backend/web/package.json), not a CDN: /api/docs works offline and inside China.
    status, _, page = fetch(client, "/api/docs")
    assert status == 200 and "SwaggerUIBundle" in page
    urls = re.findall(r'(?:src|href)="([^"]*)"', page) + re.findall(r'url: "([^"]*)"', page)
    assert len(urls) >= 5, urls  # the style, the favicon, two scripts, the OpenAPI document
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url
        with client.get(url) as response:
            assert response.status_code == 200, url
    assert not re.search(r'(?:src|href|url)\s*[=:]\s*["\'](?:https?:)?//', page)
    assert fetch(client, "/api/docs/vendor/package.json")[0] == 404
