"""Pass rules without HTTP: privacy of issued passes, the sealed reference, the service's error codes."""
from __future__ import annotations

import importlib
import struct

import pytest
from sqlalchemy import select

from backend.auth import holders
from backend.auth.models import CitizenAccount
from backend.credit.models import CreditSubject
from backend.credit.tier_names import tier_table
from backend.demo import DEMO_PHONES
from backend.errors import DomainError
from backend.extensions import db

codec = importlib.import_module("backend.pass.codec")
service = importlib.import_module("backend.pass.service")
context = importlib.import_module("backend.pass.context")
flows = importlib.import_module("backend.pass.flows")

# Byte positions a merchant may see repeat between two passes of one holder (docs/pass-format.md):
# version (0), issuer (1-3), kid (4-5), kind and tier (6), issued_at (7-10), expires_at (11-14).
HEADER_POSITIONS = set(range(codec.HEADER_LEN))


def demo_citizen_account(role: str = "citizen") -> CitizenAccount:
    return db.session.scalar(select(CitizenAccount).where(CitizenAccount.phone == DEMO_PHONES[role]))


def test_passes_of_one_holder_share_no_byte_beyond_the_header(ctx):
    account = demo_citizen_account()
    issued = [flows.issue_for(ctx=context.key_context(), subject=holders.holder_subject(account_id=account.id, holder=None),
                              tier_names=tier_table())["token"]
              for _ in range(200)]
    raws = [codec.b45decode(token[len(codec.PREFIX):]) for token in issued]
    assert all(len(raw) == codec.PASS_LEN for raw in raws)
    constant = {i for i in range(codec.PASS_LEN) if len({raw[i] for raw in raws}) == 1}
    assert constant <= HEADER_POSITIONS, sorted(constant - HEADER_POSITIONS)
    assert set(range(codec.HEADER_LEN, codec.PASS_LEN)).isdisjoint(constant)
    # No two passes share a pass id, and neither the holder's row id nor the account's appears in clear.
    assert len({raw[codec.HEADER_LEN:codec.SIGNED_LEN] for raw in raws}) == len(raws)
    for raw in raws:
        for identifier in (account.subject_id, account.id):
            assert struct.pack(">Q", identifier) not in raw and struct.pack(">I", identifier) not in raw[15:]
    # ... yet the server opens every one of them to the same holder.
    for token in issued[:20]:
        claims = service.verify(ctx=context.key_context(), text=token, tier_levels={1, 2, 3, 4})
        assert service.open_reference(ctx=context.key_context(), claims=claims) == account.subject_id


def test_the_pass_carries_no_identity_of_the_holder(ctx):
    account = demo_citizen_account()
    subject = db.session.get(CreditSubject, account.subject_id)
    token = flows.issue_for(ctx=context.key_context(), subject=holders.holder_subject(account_id=account.id, holder=None),
                            tier_names=tier_table())["token"]
    raw = codec.b45decode(token[len(codec.PREFIX):])
    for secret in (account.phone.encode(), bytes.fromhex(subject.identity_hash)[:8], str(subject.score).encode()):
        assert secret not in raw and secret.decode(errors="ignore") not in token
    claims = codec.decode_unverified(token)[0]
    assert (claims.kind, claims.tier) == ("person", subject.tier_level)


def test_another_issuers_pass_opens_to_no_holder(ctx):
    key_context = context.key_context()
    claims = codec.PassClaims(version=1, issuer=370781, kid=1, kind="person", tier=2, issued_at=0, expires_at=60,
                              sealed_ref=bytes(16))
    assert service.open_reference(ctx=key_context, claims=claims) is None


def test_verify_raises_the_rules_code_and_reason(ctx):
    with pytest.raises(DomainError) as rejected:
        service.verify(ctx=context.key_context(), text="XYM:", tier_levels={1, 2})
    assert (rejected.value.code, rejected.value.detail) == ("pass_invalid", {"reason": "version"})
