"""A worker runs only as many requests at once as its pool holds (backend/admission.py); the rest wait, then 503."""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path


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


# Under a gevent worker the turns are gevent's semaphore. The standard library's, on monkey-patched
# locks, sent every request through the hub and back (two greenlet switches a request, measured with
# greenlet.settrace): the request that waits on nothing now runs through without a switch, and the
# bound still holds between greenlets.
GEVENT_TURNS = """
from gevent import monkey; monkey.patch_all()
import json, gevent, greenlet
from apiflask import APIFlask
from backend import admission, errors
app = APIFlask("turns")
app.config.update(WORKER_REQUESTS_AT_ONCE=2, WORKER_REQUEST_WAIT_SECONDS=0.3)
admission.init_app(app)
errors.register_error_handlers(app)
@app.get("/quick")
def quick():
    return "ok"
@app.get("/hold")
def hold():
    gevent.sleep(1.0)
    return "held"
switches = []
greenlet.settrace(lambda event, _args: switches.append(event))
quick_codes = [app.test_client().get("/quick").status_code for _ in range(50)]
greenlet.settrace(None)
holders = [gevent.spawn(lambda: app.test_client().get("/hold").status_code) for _ in range(2)]
gevent.sleep(0.05)
third = app.test_client().get("/quick")
gevent.joinall(holders)
print(json.dumps({"quick": quick_codes, "switches": len(switches), "third": [third.status_code, third.get_json()["code"]],
                  "holders": [h.value for h in holders], "after": app.test_client().get("/quick").status_code}))
"""


def test_a_gevent_worker_takes_turns_without_a_switch_and_keeps_the_bound():
    run = subprocess.run([sys.executable, "-c", GEVENT_TURNS], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parents[2])
    assert run.returncode == 0, run.stderr[-2000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen["quick"] == [200] * 50 and seen["switches"] == 0, seen
    assert seen["third"] == [503, "service_unavailable"] and seen["holders"] == [200, 200] and seen["after"] == 200
