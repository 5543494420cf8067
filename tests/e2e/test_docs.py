"""The API docs page in Debian's Chromium with every request to another host refused: offline, or
inside China where the usual CDNs are out of reach, it must still show the API."""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.e2e


def test_the_api_docs_render_with_every_foreign_request_refused(live_server, launch):
    context = launch()
    foreign = []

    def only_this_server(route):
        if route.request.url.startswith(live_server):
            route.continue_()
        else:
            foreign.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_server)
    page = context.new_page()
    page.goto(f"{live_server}/api/docs")
    page.wait_for_selector(".opblock", timeout=20_000)  # the operations, rendered from /api/openapi.json
    assert page.locator(".opblock").count() >= 20
    assert "信用码 API" in page.locator(".info .title").inner_text()
    assert foreign == []
