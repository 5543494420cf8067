"""A worker runs only as many requests at once as its pool holds (backend/admission.py); the rest wait, then 503."""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor


def test_requests_past_the_bound_wait_for_a_turn_and_give_up_with_503(make_app):
    app = make_app(WORKER_REQUESTS_AT_ONCE=2, WORKER_REQUEST_WAIT_SECONDS=1.0)
    release, inside = threading.Event(), []

    @app.get("/test/hold")
    def hold():
        inside.append(time.monotonic())
        release.wait(10)
        return {"held": True}

    def get(path):
        with app.test_client() as client:
            response = client.get(path)
            return response.status_code, response.get_json()

    with ThreadPoolExecutor(3) as pool:
        holding = [pool.submit(get, "/test/hold") for _ in range(2)]
        while len(inside) < 2:
            time.sleep(0.01)
        status, body = get("/api/ping")  # a third request finds both turns taken: it waits, then 503
        assert status == 503 and body["code"] == "service_unavailable"
        waiting = pool.submit(get, "/api/ping")
        time.sleep(0.1)
        assert not waiting.done()  # still waiting for a turn
        release.set()
        assert [future.result(timeout=10)[0] for future in holding] == [200, 200]
        assert waiting.result(timeout=10) == (200, {"pong": True})  # got the turn a finished request gave back
    assert get("/api/ping")[0] == 200  # and every turn came back
    assert get("/api/ping")[0] == 200
