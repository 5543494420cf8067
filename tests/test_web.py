"""The pages people open: the scanner is served from merchant_scanner/ without its private files."""
from __future__ import annotations

import pytest


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
