"""Sessions: access + rotating refresh tokens, logout, and revocation that takes effect at once.

A session is a refresh-token *family*; its id is the `sid` claim of every access token it issues.
Revoking a session writes a `RevokedSession` row (the record) and a Redis key (the fast path).

Per request, `is_session_revoked` must be cheap (it runs on every authenticated call, issuing
passes included) and must never say "not revoked" wrongly:

* While the worker's change feed is synced (backend/changefeed.py: every revocation is announced
  on Redis Pub/Sub and each worker's `RevokedSessions` keeps the live set in memory) the answer
  costs no round trip.
  Otherwise, per request:
* Redis holds `revoked:<sid>` for every live revocation, but only while the marker
  `revoked:warm` exists is its silence authoritative. One pipelined round trip reads both.
* No marker (Redis restarted, flushed, or the marker's short TTL ran out) means Redis may have
  forgotten revocations: one worker rebuilds the keys from the database under a lock and sets the
  marker again; until then every check asks the database.
* Redis unreachable: every check asks the database (`revoked_sessions`, or `devices.revoked_at`
  for a device).

A revocation writes Redis before the database commits (fail closed). If that Redis write fails
while Redis still holds a warm marker, the marker's TTL (`SESSION_WARM_SECONDS`, 120 s by default)
bounds how long the database record can go unseen; docs/security.md discusses the trade.
"""
from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from flask import current_app
from sqlalchemy import select, update

from .. import changefeed
from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..extensions import db, redis_store
from .models import CitizenAccount, Device, MerchantStaff, OfficeUser, RefreshToken, RevokedSession
from .service import Principal, issue_access_token, secret_digest

log = logging.getLogger(__name__)

WARM_MARKER = "warm"
REBUILD_LOCK = "rebuild-lock"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str | None
    expires_in: int

    def json(self) -> dict:
        body = {"access_token": self.access_token, "expires_in": self.expires_in, "token_type": "Bearer"}
        if self.refresh_token is not None:
            body["refresh_token"] = self.refresh_token
        return body


def _config(name: str):
    return current_app.config[name]  # every setting has its default in backend/config.py


def _refresh_digest(token: str) -> str:
    return secret_digest(key=_config("SECRET_KEY"), purpose="refresh", value=token)


def device_session_id(device_id: int) -> str:
    """Device tokens have no refresh family: their session id is fixed, so revoking the device kills it."""
    return f"device-{device_id}"


def max_access_lifetime() -> timedelta:
    """The longest an access token this app issues can live: how long a revocation must be remembered."""
    minutes = _config("ACCESS_TOKEN_MINUTES")
    if _config("DEMO"):
        minutes = max(minutes, _config("DEMO_TOKEN_HOURS") * 60)
    return timedelta(minutes=minutes + 1)  # one minute of slack for clock differences


# -- starting and renewing sessions -------------------------------------------------------------

def start_session(principal: Principal) -> TokenPair:
    """A new session family for a freshly signed-in principal; the caller commits."""
    family = str(uuid.uuid4())
    return _issue(principal=Principal(kind=principal.kind, id=principal.id, role=principal.role,
                                      partner_id=principal.partner_id, session_id=family))


def _issue(*, principal: Principal) -> TokenPair:
    now = utcnow()
    refresh = "rt_" + secrets.token_urlsafe(32)
    db.session.add(RefreshToken(
        family_id=principal.session_id, token_hash=_refresh_digest(refresh), principal_kind=principal.kind,
        principal_id=principal.id, role=principal.role, issued_at=now,
        expires_at=now + timedelta(days=_config("REFRESH_TOKEN_DAYS")),
    ))
    minutes = _config("ACCESS_TOKEN_MINUTES")
    access = issue_access_token(secret=_config("SECRET_KEY"), principal=principal, minutes=minutes, now=now)
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=minutes * 60)


def refresh_session(*, refresh_token: str) -> TokenPair:
    """Rotate: the presented token is spent and a new pair issued in the same family.

    A token presented a second time means it was copied: the whole family is revoked at once, so
    both the thief and the owner must sign in again (OAuth 2.0 Security BCP, refresh token rotation).
    """
    now = utcnow()
    row = db.session.scalar(select(RefreshToken).where(RefreshToken.token_hash == _refresh_digest(refresh_token)))
    if row is None or row.expires_at <= now:
        raise DomainError(ErrorCode.REFRESH_INVALID)
    if row.revoked_at is not None:
        raise DomainError(ErrorCode.SESSION_REVOKED)
    # The conditional update is the lock: of two concurrent uses exactly one spends the token.
    spent = db.session.execute(
        update(RefreshToken).where(RefreshToken.id == row.id, RefreshToken.used_at.is_(None),
                                   RefreshToken.revoked_at.is_(None)).values(used_at=now)
    ).rowcount
    if spent != 1:
        family = row.family_id
        db.session.rollback()
        log.warning("refresh token reused: revoking session family %s of %s:%s", family, row.principal_kind,
                    row.principal_id)
        revoke_sessions([family], reason="refresh_reuse")
        db.session.commit()
        raise DomainError(ErrorCode.SESSION_REVOKED)
    principal = current_principal_of(kind=row.principal_kind, principal_id=row.principal_id,
                                     session_id=row.family_id)
    if principal is None:
        family = row.family_id
        db.session.rollback()
        revoke_sessions([family], reason="account_inactive")
        db.session.commit()
        raise DomainError(ErrorCode.SESSION_REVOKED)
    pair = _issue(principal=principal)
    db.session.commit()
    return pair


def current_principal_of(*, kind: str, principal_id: int, session_id: str) -> Principal | None:
    """The principal as the database says it is now (role and merchant may have changed), or None if inactive."""
    if kind == "citizen":
        account = db.session.get(CitizenAccount, principal_id)
        if account is None or account.disabled:
            return None
        return Principal(kind="citizen", id=account.id, role="citizen", session_id=session_id)
    if kind == "staff":
        staff = db.session.get(MerchantStaff, principal_id)
        if staff is None or not staff.active:
            return None
        return Principal(kind="staff", id=staff.id, role=staff.role, partner_id=staff.partner_id,
                         session_id=session_id)
    if kind == "office":
        user = db.session.get(OfficeUser, principal_id)
        if user is None or not user.active:
            return None
        return Principal(kind="office", id=user.id, role=user.role, session_id=session_id)
    return None


def device_token(device: Device) -> str:
    """The scanner's long-lived credential: bound to one merchant and one device, dead once the device is revoked."""
    principal = Principal(kind="device", id=device.id, role="device", partner_id=device.partner_id,
                          session_id=device_session_id(device.id))
    return issue_access_token(secret=_config("SECRET_KEY"), principal=principal,
                              minutes=_config("DEVICE_TOKEN_DAYS") * 24 * 60)


# -- revocation ---------------------------------------------------------------------------------

def logout(principal: Principal) -> None:
    """End this session now. A device signing out un-enrols itself: its token is all it has."""
    if principal.kind == "device":
        device = db.session.get(Device, principal.id)
        if device is not None and device.revoked_at is None:
            device.revoked_at = utcnow()
        revoke_sessions([device_session_id(principal.id)], reason="device_logout", lifetime=device_lifetime())
    elif principal.session_id:
        revoke_sessions([principal.session_id], reason="logout")
    db.session.commit()


def revoke_principal_sessions(*, kind: str, principal_id: int, reason: str) -> int:
    """Revoke every live session of one principal (account disabled, password reset...); caller commits."""
    families = list(db.session.scalars(
        select(RefreshToken.family_id).where(RefreshToken.principal_kind == kind,
                                             RefreshToken.principal_id == principal_id,
                                             RefreshToken.revoked_at.is_(None),
                                             RefreshToken.expires_at > utcnow()).distinct()))
    revoke_sessions(families, reason=reason)
    return len(families)


def revoke_sessions(session_ids: list[str], *, reason: str, lifetime: timedelta | None = None) -> None:
    """Revoke sessions at once: Redis first (fail closed), then the rows the caller commits."""
    if not session_ids:
        return
    now = utcnow()
    expires_at = now + (lifetime or max_access_lifetime())
    announce_revocation(session_ids, expires_at)
    db.session.execute(update(RefreshToken).where(RefreshToken.family_id.in_(session_ids),
                                                  RefreshToken.revoked_at.is_(None)).values(revoked_at=now))
    known = set(db.session.scalars(select(RevokedSession.session_id).where(RevokedSession.session_id.in_(session_ids))))
    for sid in session_ids:
        if sid in known:
            db.session.execute(update(RevokedSession).where(RevokedSession.session_id == sid)
                               .values(expires_at=expires_at))
        else:
            db.session.add(RevokedSession(session_id=sid, revoked_at=now, expires_at=expires_at))
    log.info("revoked %d session(s): %s", len(session_ids), reason)


def announce_revocation(session_ids: list[str], expires_at: datetime) -> None:
    """This worker knows at once; then Redis gets the `revoked:<sid>` keys and every worker's feed the news."""
    ttl_ms = max(1000, int((expires_at - utcnow()).total_seconds() * 1000))

    def write(pipe) -> None:
        for sid in session_ids:
            pipe.set(redis_store.key("revoked", sid), "1", px=ttl_ms)

    payloads = [f"{sid} {expires_at.timestamp():.0f}" for sid in session_ids]
    if not changefeed.announce(RevokedSessions.kind, payloads, write=write):
        # Redis may be half-alive: make it distrust itself so that the next checks ask the database.
        try:
            redis_store.client.delete(redis_store.key("revoked", WARM_MARKER))
        except redis.RedisError:
            pass
        log.warning("Redis unavailable while revoking sessions; the database record will be used")


class RevokedSessions:
    """The change feed's consumer of `revoked <session id> <expires unix>`: every live revocation in
    this worker's memory, so that a synced worker checks a session without a round trip."""
    kind = "revoked"

    def __init__(self, app):
        self._app = app
        self.reset()

    def reset(self) -> None:
        self._lock = threading.Lock()
        self._expiry: dict[str, float] = {}

    def is_revoked(self, session_id: str) -> bool:
        expires_at = self._expiry.get(session_id)
        return expires_at is not None and expires_at > time.time()

    def load(self, client: redis.Redis, prefix: str) -> None:
        now = time.time()
        with self._app.app_context():  # run by the feed's own thread: it must not keep its session
            try:
                revoked = live_revocations()
            finally:
                db.session.remove()
        for key in client.scan_iter(match=prefix + "revoked:*", count=1000):
            ttl_ms = client.pttl(key)
            if ttl_ms and ttl_ms > 0:
                sid = key[len(prefix + "revoked:"):]
                revoked[sid] = max(revoked.get(sid, 0.0), now + ttl_ms / 1000)
        with self._lock:  # revocations only accumulate: keep what was received during the load
            for sid, expires_at in self._expiry.items():
                revoked[sid] = max(expires_at, revoked.get(sid, 0.0))
            self._expiry = {sid: expires_at for sid, expires_at in revoked.items() if expires_at > now}

    def receive(self, payload: str) -> None:
        sid, _, expires_at = payload.rpartition(" ")
        with self._lock:
            self._expiry[sid] = max(float(expires_at), self._expiry.get(sid, 0.0))


def is_session_revoked(session_id: str | None, *, device_id: int | None = None) -> bool:
    """True if the session was revoked: from this worker's change feed when it is synced (no round
    trip at all); otherwise one Redis round trip while Redis is warm, the database when it is not."""
    if not session_id:
        return True  # every token we issue carries a session id
    feed = changefeed.current_feed()
    if feed.synced:
        return feed.consumers[RevokedSessions.kind].is_revoked(session_id)
    client = redis_store.client
    try:
        pipe = client.pipeline(transaction=False)
        pipe.exists(redis_store.key("revoked", session_id))
        pipe.exists(redis_store.key("revoked", WARM_MARKER))
        revoked, warm = pipe.execute()
        if revoked:
            return True
        if warm:
            return False
        _rebuild_from_database(client)
    except redis.RedisError:
        pass
    return _revoked_in_database(session_id, device_id=device_id)


def live_revocations() -> dict[str, float]:
    """Every revocation still in force, as the change feed loads it: session id -> expiry (unix).

    If Redis has lost its revocations (no warm marker), they are copied back, so that workers whose
    feed is not synced yet find Redis warm again.
    """
    rows = db.session.execute(select(RevokedSession.session_id, RevokedSession.expires_at)
                              .where(RevokedSession.expires_at > utcnow())).all()
    client = redis_store.client
    try:
        if not client.exists(redis_store.key("revoked", WARM_MARKER)):
            _rebuild_from_database(client)
    except redis.RedisError:
        pass
    return {sid: expires_at.timestamp() for sid, expires_at in rows}


def _revoked_in_database(session_id: str, *, device_id: int | None) -> bool:
    if device_id is not None:
        row = db.session.execute(select(Device.revoked_at).where(Device.id == device_id)).first()
        return row is None or row.revoked_at is not None
    return db.session.scalar(select(RevokedSession.id).where(RevokedSession.session_id == session_id,
                                                             RevokedSession.expires_at > utcnow())) is not None


def _rebuild_from_database(client: redis.Redis) -> None:
    """Copy every live revocation into Redis, then declare Redis warm. One worker at a time."""
    lock = redis_store.key("revoked", REBUILD_LOCK)
    if not client.set(lock, "1", nx=True, ex=30):
        return  # another worker is rebuilding; this request asks the database meanwhile
    try:
        now = utcnow()
        pipe = client.pipeline(transaction=False)
        rows = db.session.execute(select(RevokedSession.session_id, RevokedSession.expires_at)
                                  .where(RevokedSession.expires_at > now))
        for sid, expires_at in rows:
            pipe.set(redis_store.key("revoked", sid), "1",
                     px=max(1000, int((expires_at - now).total_seconds() * 1000)))
        pipe.set(redis_store.key("revoked", WARM_MARKER), "1", ex=_config("SESSION_WARM_SECONDS"))
        pipe.execute()
    finally:
        client.delete(lock)


def device_lifetime() -> timedelta:
    return timedelta(days=_config("DEVICE_TOKEN_DAYS"), minutes=1)
