"""Browser fixtures: the real app under gunicorn, Debian's Chromium, and a fake camera.

The app is the session's migrated, demo-seeded database (tests/conftest.py's `app`, SQLite or
PostgreSQL by TEST_DB) served by gunicorn on a free port, exactly as in production. Chromium is
the system one (`/usr/bin/chromium`, never a downloaded build); its fake camera plays a y4m video
made from a real pass's QR code, so the scanner's whole path runs: camera, zxing-wasm decoding,
WebCrypto verification, the outbox and the API.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import qrcode
import requests
from qrcode.constants import ERROR_CORRECT_M

from tests.helpers import Gunicorn

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# The browser's own interface in Chinese, as on a clerk's or citizen's machine: Chromium on Linux takes
# it from LANGUAGE (with Debian's chromium-l10n), and it is what a date field's 年/月/日 follows.
CHROMIUM_ENV = {**os.environ, "LANGUAGE": "zh_CN"}
SCREENSHOTS = ROOT / "docs" / "screenshots"


def pytest_collection_modifyitems(items):
    """Under pytest-xdist --dist loadgroup, every browser test on one worker: one served app and one
    Chromium for them all, as without xdist, instead of one of each per worker."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.xdist_group("e2e"))


def missing(message: str):
    """A browser-test prerequisite is absent: skip on a developer's machine, fail under CI=true."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def live_server(app, tmp_path_factory):
    """Base URL of gunicorn serving wsgi:app on the session's database and Redis prefix."""
    if not (ROOT / "merchant_scanner" / "node_modules").is_dir():
        missing("merchant_scanner/node_modules is missing: run `npm ci --prefix merchant_scanner`")
    # Objections' photos in the session's own folder, not the checkout's instance/ (shared by test runs).
    server = Gunicorn(app, tmp_path_factory.mktemp("gunicorn") / "gunicorn.log",
                      env={"OBJECTION_PHOTO_DIR": str(tmp_path_factory.mktemp("objection-photos"))})
    yield server.base
    server.stop()


@pytest.fixture
def issue_pass(live_server, token):
    """issue_pass(role="citizen") -> the text of a fresh pass, issued through the real API."""

    def _issue(role: str = "citizen") -> dict:
        response = requests.post(f"{live_server}/api/pass", json={},
                                 headers={"Authorization": f"Bearer {token(role)}"}, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()

    return _issue


def write_y4m(path: Path, text: str, *, size: int = 320, black_frames: int = 5, qr_frames: int = 40) -> Path:
    """A 10 fps y4m for Chromium's fake camera: black frames, then the QR of `text`, on white."""
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=1, border=4)
    qr.add_data(text)
    qr.make(fit=True)
    modules = qr.get_matrix()  # includes the quiet zone
    n = len(modules)
    scale = (size - 16) // n
    offset = (size - n * scale) // 2
    luma = bytearray([235]) * (size * size)  # white page around the code
    for y in range(n):
        for x in range(n):
            if modules[y][x]:
                for dy in range(scale):
                    row = (offset + y * scale + dy) * size + offset + x * scale
                    luma[row:row + scale] = bytes([16]) * scale
    chroma = bytes([128]) * ((size // 2) * (size // 2) * 2)
    black = bytes([16]) * (size * size) + chroma
    frame = bytes(luma) + chroma
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{size} H{size} F10:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(black_frames + qr_frames):
            f.write(b"FRAME\n")
            f.write(black if i < black_frames else frame)
    return path


@pytest.fixture(scope="session")
def playwright_instance():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        missing(f"{CHROMIUM} is missing: apt-get install -y chromium")
    with sync_api.sync_playwright() as p:
        yield p


# Reports every Content-Security-Policy violation in any frame of the page to the test.
REPORT_CSP_VIOLATIONS = """
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolation(
  `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile || e.documentURI}:${e.lineNumber}`));
"""


def watch_csp(context, violations: list[str]):
    """Collect CSP violations of every page of `context`: the event, and Chromium's console line."""
    context.expose_binding("__cspViolation", lambda _source, text: violations.append(text))
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    context.on("console", lambda m: violations.append(m.text)
               if "Content Security Policy" in m.text or "Content-Security-Policy" in m.text else None)
    return context


@pytest.fixture
def csp_violations():
    """Every browser context made through `launch` or `desktop` reports here; none may occur."""
    violations: list[str] = []
    yield violations
    assert not violations, f"the pages broke their Content-Security-Policy: {violations}"


@pytest.fixture
def launch(playwright_instance, tmp_path, csp_violations):
    """launch(camera_text) -> a 360x740 phone context whose camera shows that text's QR code;
    launch(desktop=True) -> a 1366x768 desktop context (the office's screen)."""
    browsers = []

    def _launch(camera_text: str | None = None, *, desktop: bool = False):
        args = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
        if camera_text is not None:
            video = write_y4m(tmp_path / f"camera-{len(browsers)}.y4m", camera_text)
            args.append(f"--use-file-for-fake-video-capture={video}")
        browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=args, headless=True,
                                                      env=CHROMIUM_ENV)
        browsers.append(browser)
        if desktop:
            context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN",
                                          timezone_id="Asia/Shanghai", accept_downloads=True)
            return watch_csp(context, csp_violations)
        context = browser.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=1,
                                      locale="zh-CN", timezone_id="Asia/Shanghai", is_mobile=True, has_touch=True)
        context.grant_permissions(["camera"])
        return watch_csp(context, csp_violations)

    yield _launch
    for browser in browsers:
        browser.close()


@pytest.fixture
def screenshot(tmp_path):
    """screenshot(page, name, app="scanner"): docs/screenshots/<app>-<name>.png when UPDATE_SCREENSHOTS=1,
    else a temp dir."""
    target = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path / "screenshots"
    target.mkdir(parents=True, exist_ok=True)

    def _shot(page, name: str, app: str = "scanner"):
        page.screenshot(path=str(target / f"{app}-{name}.png"))

    return _shot
