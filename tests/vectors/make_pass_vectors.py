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
import struct
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
codec = importlib.import_module("backend.pass.codec")

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from nacl.bindings import crypto_core_ed25519_add, crypto_scalarmult_ed25519_base_noclamp  # noqa: E402

OUT = Path(__file__).with_name("pass.json")
NOW = 1_800_000_000  # 2027-01-15T08:00:00Z
SKEW = 30
ISSUER = 230184  # 肇东市
PARTNER_ISSUER = 370781  # 青州市, a trusted partner city that publishes no levels of its own (ours apply)
# 石家庄市, a partner city with its own ladder: it publishes levels 2 to 5 (its key list entry's own
# `tier_levels`), so rule 9 takes its level 5, which this city does not have, and refuses its level 1,
# which this city has and it does not publish. Its tier map takes level 5 as our 4.
LADDER_ISSUER = 130100
LADDER_LEVELS = {2: "b", 3: "a", 4: "aa", 5: "aaa"}
LADDER_TIER_MAP = {"2": 1, "3": 2, "4": 3, "5": 4}
UNKNOWN_ISSUER = 110101
TIERS = {1: "basic", 2: "good", 3: "excellent", 4: "red_list"}
SEAL_KEY = hashlib.sha256(b"test vectors seal key").digest()


def key_from_seed(label: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())


def raw_public(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# Ed25519's group order L and field prime p (RFC 8032 section 5.1).
L = 2**252 + 27742317777372353535851937790883648493
P = 2**255 - 19


def le32(number: int) -> bytes:
    return number.to_bytes(32, "little")


# Every encoding of the eight small-order points: the y of each (the identity 1, the point of
# order 2 p - 1, the two of order 4 y = 0, the four of order 8), y + p where that still fits in 255
# bits, each with the sign bit clear and set. This is libsodium's blocklist (ge25519_has_small_order
# in ed25519_ref10.c, compared with the sign bit masked), written out: 8 canonical encodings and
# 6 non-canonical ones.
ORDER_8_Y = 2707385501144840649318225287225658788936804267575313519463743609750303402022
SMALL_ORDER_Y = [0, 1, ORDER_8_Y, P - ORDER_8_Y, P - 1, P, P + 1]
SMALL_ORDER_ENCODINGS = [le32(y | sign << 255) for y in SMALL_ORDER_Y for sign in (0, 1)]
IDENTITY = le32(1)
BASE_POINT = crypto_scalarmult_ed25519_base_noclamp(le32(1))
ORDER_8_POINT = le32(ORDER_8_Y)


def key_time(unix: int, fraction: str = "") -> str:
    """A key time as the key list writes it: ISO 8601 UTC, with an optional fraction to truncate."""
    return datetime.fromtimestamp(unix, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


REAL_KEYS = {
    # (issuer, kid): (private key, status, not_before, not_after)
    (ISSUER, 1): (key_from_seed("zhaodong kid 1"), "retired", key_time(NOW - 86400 * 30), key_time(NOW - 60)),
    (ISSUER, 2): (key_from_seed("zhaodong kid 2"), "active", key_time(NOW - 3600), None),
    (ISSUER, 3): (key_from_seed("zhaodong kid 3"), "revoked", key_time(NOW - 86400), None),
    # Key times carry fractions, which a verifier truncates: kid 4 starts at NOW - 100 (not
    # NOW - 99), kid 5 ends at NOW - 60 (not NOW - 59).
    (ISSUER, 4): (key_from_seed("zhaodong kid 4"), "active", key_time(NOW - 100, ".9"), None),
    (ISSUER, 5): (key_from_seed("zhaodong kid 5"), "retired", key_time(NOW - 86400),
                  key_time(NOW - 60, ".999999")),
    (PARTNER_ISSUER, 7): (key_from_seed("qingzhou kid 7"), "active", key_time(NOW - 86400 * 90), None),
    (LADDER_ISSUER, 8): (key_from_seed("shijiazhuang kid 8"), "active", key_time(NOW - 86400 * 30), None),
}
KEYS = {where: entry[0] for where, entry in REAL_KEYS.items()}
STRANGER_KEY = key_from_seed("not a trusted key")
MIXED_ORDER_KEY = crypto_core_ed25519_add(raw_public(key_from_seed("zhaodong kid 2")), ORDER_8_POINT)
# Keys in the list that a verifier must drop when it loads the list (docs/pass-format.md, "The key
# list"): a pass under any of them is a pass under an unknown key. Kids 20 and 21 carry the forgery
# R = B, S = 1, which OpenSSL (WebCrypto) accepts under the identity key; kid 22 a signature that
# a cofactored verifier (@noble/ed25519) accepts; kids 23-25 are kid 2's key, signed by it.
DROPPED_KEYS = {
    # (issuer, kid): (what, raw public key, alg, status, not_before)
    (ISSUER, 20): ("the identity point, a small-order key", IDENTITY, "Ed25519", "active", key_time(NOW - 3600)),
    (ISSUER, 21): ("a non-canonical encoding of the identity (y = p + 1)", le32(P + 1), "Ed25519", "active",
                   key_time(NOW - 3600)),
    (ISSUER, 22): ("a key with a small-order component (kid 2 plus a point of order 8)", MIXED_ORDER_KEY,
                   "Ed25519", "active", key_time(NOW - 3600)),
    (ISSUER, 23): ("an unknown status", raw_public(KEYS[(ISSUER, 2)]), "Ed25519", "suspended",
                   key_time(NOW - 3600)),
    (ISSUER, 24): ("an algorithm other than Ed25519", raw_public(KEYS[(ISSUER, 2)]), "Ed448", "active",
                   key_time(NOW - 3600)),
    (ISSUER, 25): ("a time without its UTC designator", raw_public(KEYS[(ISSUER, 2)]), "Ed25519", "active",
                   key_time(NOW - 3600)[:-1]),
}


def scalar_of(private_key: Ed25519PrivateKey) -> int:
    """The secret scalar a of an Ed25519 key (RFC 8032 section 5.1.5), to build unusual signatures."""
    digest = bytearray(hashlib.sha512(private_key.private_bytes_raw()).digest()[:32])
    digest[0] &= 248
    digest[31] = digest[31] & 127 | 64
    return int.from_bytes(digest, "little")


def challenge(r_bytes: bytes, public_key: bytes, message: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r_bytes + public_key + message).digest(), "little") % L


def resign(text: str, signature) -> str:
    """The same pass bytes with the signature that `signature(message)` returns."""
    signed = codec.b45decode(text[len(codec.PREFIX):])[:codec.SIGNED_LEN]
    return codec.PREFIX + codec.b45encode(signed + signature(codec.SIGNING_CONTEXT + signed))


def odd_signature(private_key: Ed25519PrivateKey, r_point: bytes, r: int, public_key: bytes | None = None):
    """A signature with a chosen R = [r]B (+ anything), S = r + k * a: what only a key holder can make."""
    public_key = public_key or raw_public(private_key)
    a = scalar_of(private_key)

    def sign(message: bytes) -> bytes:
        return r_point + le32((r + challenge(r_point, public_key, message) * a) % L)
    return sign


def plus_l(text: str) -> str:
    """The pass with S replaced by S + L: the same value modulo L, but not the canonical encoding."""
    raw = codec.b45decode(text[len(codec.PREFIX):])
    s_value = int.from_bytes(raw[-32:], "little")
    return codec.PREFIX + codec.b45encode(raw[:-32] + le32(s_value + L))


def make(issuer=ISSUER, kid=2, kind="person", tier=1, issued_at=NOW - 10, lifetime=60,
         holder_id=42, nonce=b"\x01" * 8, private_key=None, kind_code=None):
    key = private_key or KEYS[(issuer, kid)]
    sealed = codec.seal_holder(SEAL_KEY, holder_id, nonce)
    if kind_code is not None:  # a kind the encoder refuses to write, signed all the same
        header = struct.pack(">B3sHBII", codec.VERSION, issuer.to_bytes(3, "big"), kid, kind_code << 4 | tier,
                             issued_at, issued_at + lifetime)
        signed = header + sealed
        return codec.PREFIX + codec.b45encode(signed + key.sign(codec.SIGNING_CONTEXT + signed))
    return codec.encode_pass(private_key=key, issuer=issuer, kid=kid, kind=kind, tier=tier,
                             issued_at=issued_at, expires_at=issued_at + lifetime, sealed_ref=sealed)


def pass_id(holder_id=42, nonce=b"\x01" * 8) -> str:
    return codec.seal_holder(SEAL_KEY, holder_id, nonce).hex()


def tamper(text: str, byte_offset: int, mask: int = 0x01) -> str:
    raw = bytearray(codec.b45decode(text[len(codec.PREFIX):]))
    raw[byte_offset] ^= mask
    return codec.PREFIX + codec.b45encode(bytes(raw))


def valid(name, token, now=None, **claims):
    return {"name": name, "token": token, **({"now": now} if now is not None else {}), "valid": True,
            "claims": claims}


def invalid(name, token, code, reason, now=None):
    return {"name": name, "token": token, **({"now": now} if now is not None else {}), "valid": False,
            "code": code, "reason": reason}


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
    return out + edge_cases()


def edge_cases():
    """The edges an outside verifier asked for: each boundary from both sides, odd signatures, odd keys."""
    kid2_start = NOW - 3600
    kid1_end = NOW - 60
    signer = KEYS[(ISSUER, 2)]
    r = int.from_bytes(hashlib.sha512(b"vectors nonce").digest(), "little") % L  # any scalar will do
    r_point = crypto_scalarmult_ed25519_base_noclamp(le32(r))
    claims = dict(issuer=ISSUER, kid=2, kind="person", tier=1)
    return [
        # Rule 9: a kind the encoder cannot write, with a signature that verifies.
        invalid("kind 0 with a valid signature", make(kind_code=0), "pass_invalid", "claims"),
        invalid("kind 3 with a valid signature", make(kind_code=3), "pass_invalid", "claims"),
        # Rule 10, the key's start: not_before - skew is the first second a pass may carry.
        valid("issued exactly at not_before - skew", make(issued_at=kid2_start - SKEW, nonce=b"\x11" * 8),
              now=kid2_start - SKEW + 10, **claims, issued_at=kid2_start - SKEW, expires_at=kid2_start - SKEW + 60,
              pass_id=pass_id(nonce=b"\x11" * 8)),
        invalid("issued one second before not_before - skew", make(issued_at=kid2_start - SKEW - 1),
                "pass_invalid", "window", now=kid2_start - SKEW + 10),
        # Rule 10, the lifetime: 600 s is the longest.
        valid("lifetime exactly 600 s", make(issued_at=NOW - 10, lifetime=600, nonce=b"\x12" * 8), **claims,
              issued_at=NOW - 10, expires_at=NOW + 590, pass_id=pass_id(nonce=b"\x12" * 8)),
        # Rule 10, the key's end: not_after + skew is the last second a pass may carry.
        valid("issued exactly at not_after + skew", make(kid=1, issued_at=kid1_end + SKEW, nonce=b"\x13" * 8),
              **{**claims, "kid": 1}, issued_at=kid1_end + SKEW, expires_at=kid1_end + SKEW + 60,
              pass_id=pass_id(nonce=b"\x13" * 8)),
        invalid("issued one second after not_after + skew", make(kid=1, issued_at=kid1_end + SKEW + 1),
                "pass_invalid", "window"),
        # Rule 11: a phone's clock may run `skew` seconds ahead, not one more.
        valid("issued at now + skew", make(issued_at=NOW + SKEW, nonce=b"\x14" * 8), **claims,
              issued_at=NOW + SKEW, expires_at=NOW + SKEW + 60, pass_id=pass_id(nonce=b"\x14" * 8)),
        invalid("issued one second past now + skew", make(issued_at=NOW + SKEW + 1), "pass_not_yet_valid",
                "not_yet_valid"),
        # Key times with fractions are truncated to the second, on both ends.
        valid("key not_before with a fraction is truncated", make(kid=4, issued_at=NOW - 100 - SKEW,
              nonce=b"\x15" * 8), **{**claims, "kid": 4}, issued_at=NOW - 100 - SKEW,
              expires_at=NOW - 100 - SKEW + 60, pass_id=pass_id(nonce=b"\x15" * 8), now=NOW - 100),
        invalid("key not_after with a fraction is truncated", make(kid=5, issued_at=NOW - 60 + SKEW + 1),
                "pass_invalid", "window"),
        # Rule 8 is strict Ed25519: what lax verifiers accept, every verifier here refuses.
        invalid("S >= L (S + L, equal modulo L)", plus_l(make()), "pass_invalid", "signature"),
        invalid("R is the identity, a small-order point", resign(make(), odd_signature(signer, IDENTITY, 0)),
                "pass_invalid", "signature"),
        invalid("R has a small-order component",
                resign(make(), odd_signature(signer, crypto_core_ed25519_add(r_point, ORDER_8_POINT), r)),
                "pass_invalid", "signature"),
        # Keys the verifier drops when it loads the list: their passes are under an unknown key.
        invalid("small-order key (identity), R = B, S = 1",
                resign(make(kid=20, private_key=STRANGER_KEY), lambda message: BASE_POINT + le32(1)),
                "pass_unknown_key", "key"),
        invalid("non-canonical small-order key, R = B, S = 1",
                resign(make(kid=21, private_key=STRANGER_KEY), lambda message: BASE_POINT + le32(1)),
                "pass_unknown_key", "key"),
        invalid("key with a small-order component",
                resign(make(kid=22, private_key=signer), odd_signature(signer, r_point, r, MIXED_ORDER_KEY)),
                "pass_unknown_key", "key"),
        invalid("key with an unknown status", make(kid=23, private_key=signer), "pass_unknown_key", "key"),
        invalid("key with another algorithm", make(kid=24, private_key=signer), "pass_unknown_key", "key"),
        invalid("key with a malformed time", make(kid=25, private_key=signer), "pass_unknown_key", "key"),
        # Two faults at once: the first rule in order decides.
        invalid("revoked key and a bad signature", make(kid=3, private_key=STRANGER_KEY), "pass_key_revoked",
                "revoked"),
        invalid("bad signature and expired", make(issued_at=NOW - 200, private_key=STRANGER_KEY), "pass_invalid",
                "signature"),
        invalid("unknown tier and outside the key's window", make(tier=9, issued_at=kid2_start - SKEW - 1),
                "pass_invalid", "claims"),
        invalid("too long a lifetime and not yet valid", make(issued_at=NOW + 120, lifetime=601), "pass_invalid",
                "window"),
        invalid("outside the key's window and expired", make(kid=1, issued_at=NOW, lifetime=1,
                nonce=b"\x16" * 8), "pass_invalid", "window", now=NOW + 600),
    ] + ladder_cases()


def ladder_cases():
    """Rule 9 for an issuer that publishes its own levels: its list decides, not this city's."""
    ladder = dict(issuer=LADDER_ISSUER, kid=8, kind="person")
    return [
        valid("partner issuer with its own levels: its level 5, which we do not have",
              make(**ladder, tier=5, nonce=b"\x21" * 8), **ladder, tier=5, issued_at=NOW - 10, expires_at=NOW + 50,
              pass_id=pass_id(nonce=b"\x21" * 8)),
        valid("partner issuer with its own levels: its level 2, which we have too",
              make(**ladder, tier=2, nonce=b"\x22" * 8), **ladder, tier=2, issued_at=NOW - 10, expires_at=NOW + 50,
              pass_id=pass_id(nonce=b"\x22" * 8)),
        invalid("partner issuer with its own levels: level 6, published by neither", make(**ladder, tier=6),
                "pass_invalid", "claims"),
        invalid("partner issuer with its own levels: our level 1, not in its list", make(**ladder, tier=1),
                "pass_invalid", "claims"),
        invalid("partner issuer without its own levels: level 5 is read against ours",
                make(issuer=PARTNER_ISSUER, kid=7, tier=5), "pass_invalid", "claims"),
        invalid("partner issuer with its own levels: level 5 and a bad signature",
                make(**ladder, tier=5, private_key=STRANGER_KEY), "pass_invalid", "signature"),
    ]


def key_list():
    """The vectors' key list, in exactly the shape of `GET /api/pass/keys` (plus the test-only private keys)."""
    issuers = {}
    for (issuer, kid), (private_key, status, not_before, not_after) in sorted(REAL_KEYS.items()):
        issuers.setdefault(issuer, []).append({
            "kid": kid, "alg": "Ed25519", "public_key": b64url(raw_public(private_key)), "status": status,
            "not_before": not_before, "not_after": not_after,
            "test_only_private_key": b64url(private_key.private_bytes_raw()),
        })
    for (issuer, kid), (what, public_key, alg, status, not_before) in sorted(DROPPED_KEYS.items()):
        issuers[issuer].append({"kid": kid, "alg": alg, "public_key": b64url(public_key), "status": status,
                                "not_before": not_before, "not_after": None, "dropped_because": what})
    names = {ISSUER: "肇东市社会信用体系建设领导小组办公室", PARTNER_ISSUER: "青州市信用办", LADDER_ISSUER: "石家庄市信用办"}
    own_ladder = {LADDER_ISSUER: {"tier_map": LADDER_TIER_MAP,
                                  "tier_levels": {str(level): code for level, code in LADDER_LEVELS.items()}}}
    return {
        "issuers": [{"issuer": issuer, "name": names[issuer], "local": issuer == ISSUER, "keys": keys,
                     **own_ladder.get(issuer, {})}
                    for issuer, keys in sorted(issuers.items(), key=lambda item: (item[0] != ISSUER, item[0]))],
        "tiers": {"basic": "守信", "good": "诚信良好", "excellent": "诚信优秀", "red_list": "守信红名单"},
        "tier_levels": {str(level): code for level, code in TIERS.items()},
        "skew_seconds": SKEW,
    }


def document():
    return {
        "description": "Test vectors of the 信用码 pass format v1 (docs/pass-format.md). Test-only keys.",
        "now": NOW,
        "seal_key": b64url(SEAL_KEY),
        **key_list(),
        # Every encoding of a small-order point: a verifier refuses each as a key.
        "small_order_keys": [b64url(encoding) for encoding in SMALL_ORDER_ENCODINGS],
        "cases": cases(),
    }


def render() -> str:
    return json.dumps(document(), ensure_ascii=False, indent=2) + "\n"


if __name__ == "__main__":
    OUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUT} ({len(document()['cases'])} cases)")
