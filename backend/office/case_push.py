"""Deliver the case feed to the provincial platform: signed, in order, exactly once by cursor.

`flask cases push` runs this (one pusher per city: a systemd service, docs/running.md). Each batch
is `POST CASE_FEED_URL` with the JSON body `{"after": <cursor>, "cursor": <cursor of its last
case>, "cases": [...]}` and the header `X-Signature: sha256=<hex HMAC-SHA256(CASE_FEED_SECRET,
body)>`. The platform acknowledges with 200 and `{"ack": <that cursor>}`; anything else (an error,
a time-out, a wrong ack) is a failure, and the same batch goes again after a growing pause.

The end of a batch is stored *before* it is sent and the acknowledgement after, so a pusher that
dies in between sends exactly that batch again when it restarts, never the next one: the platform
may see a batch twice (it dedupes by cursor) but never misses one. docs/api.md has the contract.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass

import requests
from sqlalchemy import select

from ..extensions import db
from . import cases
from .models import CaseFeedState

log = logging.getLogger(__name__)
TIMEOUT = (3.05, 10)  # connect, read: a platform that hangs must not hold the feed for long
MAX_PAUSE_SECONDS = 60.0


class DeliveryFailed(Exception):
    """The platform did not acknowledge the batch; it will be sent again."""


@dataclass(frozen=True)
class Feed:
    url: str
    secret: str
    batch: int
    settle_seconds: int
    issuer_code: int
    timeout: tuple[float, float] = TIMEOUT


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _state() -> CaseFeedState:
    state = db.session.scalar(select(CaseFeedState).where(CaseFeedState.id == 1))
    if state is None:
        state = CaseFeedState(id=1, acknowledged=str(cases.Cursor()))
        db.session.add(state)
        db.session.flush()
    return state


def push_once(feed: Feed) -> bool:
    """Send the batch on its way (or the next one); True if one was acknowledged, False if none is due."""
    state = _state()
    if state.pending is None:
        batch = cases.page(after=state.acknowledged, limit=feed.batch, settle_seconds=feed.settle_seconds,
                           issuer_code=feed.issuer_code)
        if not batch["cases"]:
            db.session.commit()
            return False
        state.pending = batch["next"]
        db.session.commit()  # the batch's end is kept before anything leaves
    else:
        batch = cases.page(after=state.acknowledged, until=state.pending, limit=feed.batch, settle_seconds=0,
                           issuer_code=feed.issuer_code)
    after, end = state.acknowledged, state.pending
    db.session.commit()  # no transaction is held while the platform answers
    body = json.dumps({"after": after, "cursor": end, "cases": batch["cases"]}, ensure_ascii=False).encode()
    try:
        answer = requests.post(feed.url, data=body, timeout=feed.timeout, headers={
            "Content-Type": "application/json", "X-Signature": signature(feed.secret, body), "X-Case-Cursor": end})
        acknowledged = answer.status_code == 200 and answer.json().get("ack") == end
    except (requests.RequestException, ValueError) as error:
        raise DeliveryFailed(f"{type(error).__name__}") from None
    if not acknowledged:
        raise DeliveryFailed(f"HTTP {answer.status_code}")
    state = _state()
    state.acknowledged, state.pending = end, None
    db.session.commit()
    return True


def run(feed: Feed, *, idle_seconds: float = 5.0, stop=lambda: False, sleep=time.sleep) -> None:
    """Push until `stop()`: batches back to back while there are any, a pause when idle, and after a
    failure a pause that doubles (1 s up to a minute) until the platform acknowledges again."""
    pause = 1.0
    while not stop():
        try:
            sent = push_once(feed)
        except DeliveryFailed as error:
            db.session.rollback()
            log.warning("case feed: batch not acknowledged (%s); again in %.0f s", error, pause)
            sleep(pause)
            pause = min(pause * 2, MAX_PAUSE_SECONDS)
            continue
        pause = 1.0
        if not sent:
            sleep(idle_seconds)
