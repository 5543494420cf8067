"""The pages people open: the scanner is served from merchant_scanner/ without its private files."""
from __future__ import annotations

import http.client
import re
import threading

import pytest
from werkzeug.serving import make_server


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
