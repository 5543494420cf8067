"""Access tokens: what verification refuses, and that remembering verified tokens changes none of it."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from backend.auth import service
from backend.auth.service import Principal, decode_access_token, issue_access_token
from backend.errors import DomainError

SECRET = "s" * 40
CASHIER = Principal(kind="staff", id=7, role="cashier", partner_id=3, session_id="sid-1")


def test_a_verified_token_gives_its_principal_every_time():
    token = issue_access_token(secret=SECRET, principal=CASHIER, minutes=5)
    assert decode_access_token(secret=SECRET, token=token) == CASHIER
    assert decode_access_token(secret=SECRET, token=token) == CASHIER  # the second from memory


def test_a_remembered_token_still_expires_on_time():
    # Issued 5 minutes ago for 5 minutes and 2 seconds: valid for two more seconds.
    issued = datetime.now(timezone.utc) - timedelta(minutes=5)
    token = issue_access_token(secret=SECRET, principal=CASHIER, minutes=5, now=issued + timedelta(seconds=2))
    assert decode_access_token(secret=SECRET, token=token) == CASHIER
    time.sleep(max(0.0, jwt.decode(token, options={"verify_signature": False})["exp"] - time.time()) + 0.05)
    with pytest.raises(DomainError) as expired:
        decode_access_token(secret=SECRET, token=token)
    assert expired.value.code == "token_expired"


def test_a_remembered_token_is_not_accepted_under_another_secret():
    token = issue_access_token(secret=SECRET, principal=CASHIER, minutes=5)
    decode_access_token(secret=SECRET, token=token)
    with pytest.raises(DomainError) as refused:
        decode_access_token(secret="another-secret-" + "x" * 30, token=token)
    assert refused.value.code == "unauthorized"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature
    lambda t: jwt.encode({**jwt.decode(t, options={"verify_signature": False}), "typ": "refresh"}, SECRET),
    lambda t: jwt.encode({**jwt.decode(t, options={"verify_signature": False}), "aud": "elsewhere"}, SECRET),
])
def test_refused_tokens_are_refused_every_time(mangle):
    token = mangle(issue_access_token(secret=SECRET, principal=CASHIER, minutes=5))
    for _ in range(2):
        with pytest.raises(DomainError) as refused:
            decode_access_token(secret=SECRET, token=token)
        assert refused.value.code == "unauthorized"
    assert (SECRET, token) not in service._verified
