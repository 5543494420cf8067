"""Regenerate tests/vectors/pass.json, the shared test vectors of the pass format.

Run from the repository root: `python tests/vectors/make_pass_vectors.py`. The output is
deterministic (fixed seeds, fixed nonces, Ed25519 is deterministic), and a test fails when the
committed file differs from what this script produces.
"""
from __future__ import annotations

import base64
import hashlib
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
codec = importlib.import_module("backend.pass.codec")

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

OUT = Path(__file__).with_name("pass.json")
NOW = 1_800_000_000  # 2027-01-15T08:00:00Z
SKEW = 30
ISSUER = 230184  # 肇东市
PARTNER_ISSUER = 370781  # 青州市, a trusted partner city
UNKNOWN_ISSUER = 110101
TIERS = {1: "basic", 2: "good", 3: "excellent", 4: "red_list"}
SEAL_KEY = hashlib.sha256(b"test vectors seal key").digest()


def key_from_seed(label: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


def raw_public(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


KEYS = {
    # (issuer, kid): (private key, status, not_before, not_after)
    (ISSUER, 1): (key_from_seed("zhaodong kid 1"), "retired", NOW - 86400 * 30, NOW - 60),
    (ISSUER, 2): (key_from_seed("zhaodong kid 2"), "active", NOW - 3600, None),
    (ISSUER, 3): (key_from_seed("zhaodong kid 3"), "revoked", NOW - 86400, None),
    (PARTNER_ISSUER, 7): (key_from_seed("qingzhou kid 7"), "active", NOW - 86400 * 90, None),
}
STRANGER_KEY = key_from_seed("not a trusted key")


def make(issuer=ISSUER, kid=2, kind="person", tier=1, issued_at=NOW - 10, lifetime=60,
         holder_id=42, nonce=b"\x01" * 8, private_key=None):
    key = private_key or KEYS[(issuer, kid)][0]
    sealed = codec.seal_holder(SEAL_KEY, holder_id, nonce)
    return codec.encode_pass(private_key=key, issuer=issuer, kid=kid, kind=kind, tier=tier,
                             issued_at=issued_at, expires_at=issued_at + lifetime, sealed_ref=sealed)


def tamper(text: str, byte_offset: int, mask: int = 0x01) -> str:
    raw = bytearray(codec.b45decode(text[len(codec.PREFIX):]))
    raw[byte_offset] ^= mask
    return codec.PREFIX + codec.b45encode(bytes(raw))


def valid(name, token, **claims):
    return {"name": name, "token": token, "valid": True, "claims": claims}


def invalid(name, token, code, reason):
    return {"name": name, "token": token, "valid": False, "code": code, "reason": reason}


def cases():
    base = make()
    out = [
        valid("person tier 1, active key", base, issuer=ISSUER, kid=2, kind="person", tier=1,
              issued_at=NOW - 10, expires_at=NOW + 50, pass_id=codec.seal_holder(SEAL_KEY, 42, b"\x01" * 8).hex()),
        valid("company tier 3", make(kind="company", tier=3, holder_id=7, nonce=b"\x02" * 8),
              issuer=ISSUER, kid=2, kind="company", tier=3, issued_at=NOW - 10, expires_at=NOW + 50,
              pass_id=codec.seal_holder(SEAL_KEY, 7, b"\x02" * 8).hex()),
        valid("red list tier 4", make(tier=4, nonce=b"\x03" * 8), issuer=ISSUER, kid=2, kind="person",
              tier=4, issued_at=NOW - 10, expires_at=NOW + 50,
              pass_id=codec.seal_holder(SEAL_KEY, 42, b"\x03" * 8).hex()),
        valid("retired key, pass signed before retirement", make(kid=1, issued_at=NOW - 70, lifetime=120,
              nonce=b"\x04" * 8), issuer=ISSUER, kid=1, kind="person", tier=1, issued_at=NOW - 70,
              expires_at=NOW + 50, pass_id=codec.seal_holder(SEAL_KEY, 42, b"\x04" * 8).hex()),
        valid("partner city issuer", make(issuer=PARTNER_ISSUER, kid=7, tier=2, nonce=b"\x05" * 8),
              issuer=PARTNER_ISSUER, kid=7, kind="person", tier=2, issued_at=NOW - 10, expires_at=NOW + 50,
              pass_id=codec.seal_holder(SEAL_KEY, 42, b"\x05" * 8).hex()),
        valid("expired but within skew", make(issued_at=NOW - 80, lifetime=60, nonce=b"\x06" * 8),
              issuer=ISSUER, kid=2, kind="person", tier=1, issued_at=NOW - 80, expires_at=NOW - 20,
              pass_id=codec.seal_holder(SEAL_KEY, 42, b"\x06" * 8).hex()),
        invalid("expired", make(issued_at=NOW - 200), "pass_expired", "expired"),
        invalid("expired exactly at skew edge", make(issued_at=NOW - 90, lifetime=60), "pass_expired", "expired"),
        invalid("not yet valid", make(issued_at=NOW + 120), "pass_not_yet_valid", "not_yet_valid"),
        invalid("retired key used after retirement", make(kid=1, issued_at=NOW - 10), "pass_invalid", "window"),
        invalid("lifetime longer than 600 s", make(issued_at=NOW - 10, lifetime=601), "pass_invalid", "window"),
        invalid("expiry before issue", make(issued_at=NOW - 10, lifetime=0), "pass_invalid", "window"),
        invalid("wrong key (signed by a stranger)", make(private_key=STRANGER_KEY), "pass_invalid", "signature"),
        invalid("revoked key", make(kid=3), "pass_key_revoked", "revoked"),
        invalid("unknown issuer", make(issuer=UNKNOWN_ISSUER, kid=1, private_key=STRANGER_KEY),
                "pass_unknown_issuer", "issuer"),
        invalid("unknown key id", make(kid=9, private_key=STRANGER_KEY), "pass_unknown_key", "key"),
        invalid("unknown tier level", make(tier=9), "pass_invalid", "claims"),
        invalid("unknown version", "XYM:" + codec.b45encode(b"\x02" + codec.b45decode(base[4:])[1:]),
                "pass_invalid", "version"),
        invalid("truncated by one byte", "XYM:" + codec.b45encode(codec.b45decode(base[4:])[:-1]),
                "pass_invalid", "length"),
        invalid("padded with one byte", "XYM:" + codec.b45encode(codec.b45decode(base[4:]) + b"\x00"),
                "pass_invalid", "length"),
        invalid("truncated text (dangling base45 char)", base[:-1], "pass_invalid", "encoding"),
        invalid("trailing newline", base + "\n", "pass_invalid", "encoding"),
        invalid("trailing space", base + " ", "pass_invalid", "encoding"),
        invalid("lower-case text", base.lower(), "pass_invalid", "prefix"),
        invalid("lower-case body", "XYM:" + base[4:].lower(), "pass_invalid", "encoding"),
        invalid("no prefix", base[4:], "pass_invalid", "prefix"),
        invalid("garbage", "hello, world", "pass_invalid", "prefix"),
        invalid("garbage after prefix", "XYM:!!!", "pass_invalid", "encoding"),
        invalid("base45 group out of range", "XYM:GGW", "pass_invalid", "encoding"),
        invalid("prefix only", "XYM:", "pass_invalid", "version"),
        invalid("empty", "", "pass_invalid", "prefix"),
        invalid("JWT instead of a pass", "eyJhbGciOiJFZERTQSJ9.e30.c2ln", "pass_invalid", "prefix"),
    ]
    field_offsets = {"version": 0, "issuer": 3, "kid": 5, "kind_tier": 6, "issued_at": 10,
                     "expires_at": 14, "sealed_ref": 20, "signature": 60}
    for field, offset in field_offsets.items():
        token = tamper(base, offset, 0x10 if field == "kid" else 0x01)  # kid 2^1 would be kid 3, a real key
        expected = {
            "version": ("pass_invalid", "version"),
            "issuer": ("pass_unknown_issuer", "issuer"),
            "kid": ("pass_unknown_key", "key"),
        }.get(field, ("pass_invalid", "signature"))
        out.append(invalid(f"tampered {field}", token, *expected))
    return out


def document():
    issuers = {}
    for (issuer, kid), (private_key, status, not_before, not_after) in sorted(KEYS.items()):
        issuers.setdefault(issuer, []).append({
            "kid": kid, "alg": "Ed25519", "public_key": b64url(raw_public(private_key)), "status": status,
            "not_before": not_before, "not_after": not_after,
            "test_only_private_key": b64url(private_key.private_bytes_raw()),
        })
    return {
        "description": "Test vectors of the 信用码 pass format v1 (docs/pass-format.md). Test-only keys.",
        "now": NOW,
        "skew": SKEW,
        "seal_key": b64url(SEAL_KEY),
        "tiers": {str(level): code for level, code in TIERS.items()},
        "issuers": [{"issuer": issuer, "keys": keys} for issuer, keys in issuers.items()],
        "cases": cases(),
    }


def render() -> str:
    return json.dumps(document(), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT} ({len(document()['cases'])} cases)")
