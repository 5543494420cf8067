"""Version 1 of the 信用码 byte format: encode, seal, sign, decode and verify.

The layout and the verification rules are specified in docs/pass-format.md; this module is that
document in code and must change only together with it (and tests/vectors/pass.json).

    off len field
      0   1 version (0x01)
      1   3 issuer: administrative division code, uint24
      4   2 kid: key id within the issuer, uint16
      6   1 kind (high nibble, 1 person / 2 company) | tier level (low nibble)
      7   4 issued_at, uint32 Unix seconds
     11   4 expires_at, uint32 Unix seconds
     15  16 sealed_ref: AES-256 block of holder_id (uint64) + 8 random bytes
     31  64 Ed25519 signature over SIGNING_CONTEXT + bytes 0..30

Nothing here touches Flask or the database, so the scanner's rules, the fuzz tests and the
benchmark all exercise exactly the code that production runs.
"""
from __future__ import annotations

import base64
import functools
import os
import re
import struct
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Container, Mapping, Protocol

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from nacl.bindings import crypto_core_ed25519_is_valid_point
from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

PREFIX = "XYM:"
VERSION = 1
SIGNING_CONTEXT = b"CN-XYM-PASS-V1\x00"
_HEADER = struct.Struct(">B3sHBII")  # version, issuer (3 bytes), kid, kind_tier, issued_at, expires_at
HEADER_LEN = _HEADER.size  # 15
SEALED_LEN = 16
SIGNED_LEN = HEADER_LEN + SEALED_LEN  # 31
SIGNATURE_LEN = 64
PASS_LEN = SIGNED_LEN + SIGNATURE_LEN  # 95
TEXT_LEN = len(PREFIX) + (PASS_LEN // 2) * 3 + (PASS_LEN % 2) * 2  # 147
MAX_LIFETIME_SECONDS = 600

KEY_ALG = "Ed25519"
KEY_STATUSES = frozenset({"active", "retired", "revoked"})

KIND_CODES = {"person": 1, "company": 2}
KIND_NAMES = {code: name for name, code in KIND_CODES.items()}

BASE45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"


class PassRejected(Exception):
    """A pass failed one verification rule; `code` and `reason` are the stable names of that rule."""

    def __init__(self, code: str, reason: str):
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class VerifierKey:
    """What a verifier knows of one signing key: enough to apply rules 6-10."""

    public_key: bytes
    status: str  # one of KEY_STATUSES; any other makes the key unusable (rule 6)
    not_before: int
    not_after: int | None


@dataclass(frozen=True)
class PassClaims:
    version: int
    issuer: int
    kid: int
    kind: str
    tier: int
    issued_at: int
    expires_at: int
    sealed_ref: bytes

    @property
    def pass_id(self) -> str:
        return self.sealed_ref.hex()


# -- base45 (RFC 9285) ---------------------------------------------------------------------------
# Written out rather than taken from a package because the verifier must reject every malformed
# input the same way the scanner's JavaScript does, and the rules fit in twenty lines.

# A last odd byte as its two base45 characters, least significant first (RFC 9285).
_BASE45_PAIRS = [BASE45_ALPHABET[n % 45] + BASE45_ALPHABET[n // 45] for n in range(256)]


@functools.cache
def _base45_triples() -> list[str]:
    """Every 16-bit value as its three base45 characters, least significant first: a pass's 47 byte
    pairs are then 47 look-ups (~6 us) where two divisions each took ~14 us. Built at the first
    pass a process encodes (~35 ms); 65,536 short strings hold ~4 MB."""
    return [BASE45_ALPHABET[n % 45] + BASE45_ALPHABET[n // 45 % 45] + BASE45_ALPHABET[n // 2025]
            for n in range(65536)]


def b45encode(data: bytes) -> str:
    pairs = len(data) // 2
    text = "".join(map(_base45_triples().__getitem__, struct.unpack(f">{pairs}H", data[:2 * pairs])))
    if len(data) % 2:
        text += _BASE45_PAIRS[data[-1]]
    return text


# Character code -> base45 value, 0xFF for every byte outside the alphabet: one bytes.translate
# turns a whole pass into its digit values (~17 us a pass here where a lookup per group took ~28).
_DIGIT_VALUES = bytes(BASE45_ALPHABET.index(chr(code)) if chr(code) in BASE45_ALPHABET else 0xFF
                      for code in range(256))


def b45decode(text: str) -> bytes:
    """Strict RFC 9285 decoding; raises ValueError on any malformed input."""
    if len(text) % 3 == 1:
        raise ValueError("base45 length")
    digits = text.encode("ascii").translate(_DIGIT_VALUES)  # UnicodeEncodeError is a ValueError
    if b"\xff" in digits:
        raise ValueError("base45 alphabet")
    whole = len(digits) - len(digits) % 3
    # Three characters make two bytes: c + 45 * d + 2025 * e; a last pair makes one byte.
    groups = [c + 45 * d + 2025 * e for c, d, e in zip(digits[0:whole:3], digits[1:whole:3], digits[2:whole:3])]
    if groups and max(groups) > 0xFFFF:
        raise ValueError("base45 group out of range")
    tail = b""
    if whole < len(digits):
        last = digits[whole] + 45 * digits[whole + 1]
        if last > 0xFF:
            raise ValueError("base45 group out of range")
        tail = bytes([last])
    return struct.pack(f">{len(groups)}H", *groups) + tail


# -- sealing -------------------------------------------------------------------------------------

class _OneBlockAES:
    """AES-256 on single 16-byte blocks, its key expanded once: a fresh encryptor per pass expanded
    it again (~6 of the ~8 us a seal took). An ECB context keeps nothing between blocks, so one
    context serves every call; the lock keeps two threads (a gthread worker) off it at once."""

    __slots__ = ("_encrypt", "_decrypt", "_lock")

    def __init__(self, key: bytes) -> None:
        cipher = Cipher(algorithms.AES(key), modes.ECB())  # one block: a PRP, not a mode
        self._encrypt, self._decrypt, self._lock = cipher.encryptor(), cipher.decryptor(), threading.Lock()

    def encrypt(self, block: bytes) -> bytes:
        _one_block(block)
        with self._lock:
            return self._encrypt.update(block)

    def decrypt(self, block: bytes) -> bytes:
        _one_block(block)
        with self._lock:
            return self._decrypt.update(block)


def _one_block(block: bytes) -> None:
    # A shorter input would stay buffered in the shared context and corrupt the next call's block.
    if len(block) != SEALED_LEN:
        raise ValueError("a sealed reference is one 16-byte block")


@functools.lru_cache(maxsize=16)
def _seal_cipher(seal_key: bytes) -> _OneBlockAES:
    return _OneBlockAES(seal_key)


def seal_holder(seal_key: bytes, holder_id: int, nonce: bytes | None = None) -> bytes:
    """Encrypt the holder id with fresh randomness into one unlinkable 16-byte block."""
    nonce = os.urandom(8) if nonce is None else nonce
    return _seal_cipher(seal_key).encrypt(struct.pack(">Q", holder_id) + nonce)


def open_holder(seal_key: bytes, sealed_ref: bytes) -> int:
    return struct.unpack(">Q", _seal_cipher(seal_key).decrypt(sealed_ref)[:8])[0]


# -- encoding ------------------------------------------------------------------------------------

class Signer(Protocol):
    """An Ed25519 private key: cryptography's Ed25519PrivateKey (the tests' and the vectors' keys) or
    a PassSigner."""

    def sign(self, data: bytes) -> bytes: ...


class PassSigner:
    """The issuer's Ed25519 key, signing through libsodium (PyNaCl): 25 us a signature here against
    38 us through cryptography's OpenSSL binding, on every pass issued (each open pass page asks for
    a new one every minute). Ed25519 signatures are deterministic: the bytes are the same."""

    __slots__ = ("_key",)

    def __init__(self, private_bytes: bytes) -> None:
        self._key = SigningKey(private_bytes)  # the raw 32-byte private key is libsodium's seed

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data).signature


def encode_pass(
    *,
    private_key: Signer,
    issuer: int,
    kid: int,
    kind: str,
    tier: int,
    issued_at: int,
    expires_at: int,
    sealed_ref: bytes,
) -> str:
    """Build, sign and base45-encode a version-1 pass."""
    if not 1 <= tier <= 15:
        raise ValueError("tier level must be 1..15")
    if len(sealed_ref) != SEALED_LEN:
        raise ValueError("sealed reference must be 16 bytes")
    header = _HEADER.pack(
        VERSION, issuer.to_bytes(3, "big"), kid, (KIND_CODES[kind] << 4) | tier, issued_at, expires_at
    )
    signed = header + sealed_ref
    signature = private_key.sign(SIGNING_CONTEXT + signed)
    return PREFIX + b45encode(signed + signature)


def decode_unverified(text: str) -> tuple[PassClaims, bytes, bytes]:
    """Rules 1-4: parse the text into claims, the signed bytes and the signature."""
    if not isinstance(text, str) or not text.startswith(PREFIX):
        raise PassRejected("pass_invalid", "prefix")
    try:
        raw = b45decode(text[len(PREFIX):])
    except ValueError:
        raise PassRejected("pass_invalid", "encoding") from None
    if not raw or raw[0] != VERSION:
        raise PassRejected("pass_invalid", "version")
    if len(raw) != PASS_LEN:
        raise PassRejected("pass_invalid", "length")
    version, issuer_bytes, kid, kind_tier, issued_at, expires_at = _HEADER.unpack(raw[:HEADER_LEN])
    claims = PassClaims(
        version=version,
        issuer=int.from_bytes(issuer_bytes, "big"),
        kid=kid,
        kind=KIND_NAMES.get(kind_tier >> 4, ""),
        tier=kind_tier & 0x0F,
        issued_at=issued_at,
        expires_at=expires_at,
        sealed_ref=raw[HEADER_LEN:SIGNED_LEN],
    )
    return claims, raw[:SIGNED_LEN], raw[SIGNED_LEN:]


# -- keys ----------------------------------------------------------------------------------------

def is_valid_public_key(raw: bytes) -> bool:
    """Is `raw` a key a verifier may use: the canonical encoding of a point of the prime-order subgroup?

    libsodium's crypto_core_ed25519_is_valid_point: refuses encodings with y >= p, the eight
    small-order points under every encoding (a "signature" under the identity key is R = B,
    S = 1 for any message), points off the curve and points with a small-order component (on
    which cofactored and cofactorless verifiers disagree)."""
    return len(raw) == 32 and crypto_core_ed25519_is_valid_point(raw)


@functools.lru_cache(maxsize=256)
def _public_key(raw: bytes) -> VerifyKey | None:
    """The key loaded and checked once (a key is a value; caching it is safe); None if it is no valid key.

    Verification uses libsodium (PyNaCl): 41 us per signature on this project's 2-core machine
    against 85 us through cryptography's OpenSSL binding, on every redemption and offline sync.
    libsodium's crypto_sign_verify_detached is also the strict Ed25519 that docs/pass-format.md
    specifies: S < L, R not of small order, and [S]B - [k]A encoding to exactly the bytes of R.
    Signing uses libsodium too (PassSigner)."""
    return VerifyKey(raw) if is_valid_public_key(raw) else None


# A key time in the key list: ISO 8601 in UTC, whole seconds, any fraction ignored (truncated).
_KEY_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.\d{1,9})?(?:Z|\+00:00)", re.ASCII)
_KEY_BASE64URL = re.compile(r"[A-Za-z0-9_-]{43}", re.ASCII)  # 32 bytes, unpadded


def _key_time(value: Any) -> int:
    match = _KEY_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"not a key time: {value!r}")
    return int(datetime.strptime(match[1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc).timestamp())


def verifier_key_from_listing(entry: Mapping[str, Any]) -> VerifierKey | None:
    """One key of `GET /api/pass/keys` as a verifier reads it, or None for a key it must drop.

    docs/pass-format.md, "The key list": a key whose `alg` is not Ed25519, whose status is not one
    of the three, whose public key is not 32 bytes of base64url encoding a valid point, or whose
    times are not UTC ISO 8601 is dropped, so a pass under it fails rule 6 (unknown key)."""
    status, public_key = entry.get("status"), entry.get("public_key")
    if (entry.get("alg") != KEY_ALG or not isinstance(status, str) or status not in KEY_STATUSES
            or not isinstance(public_key, str) or not _KEY_BASE64URL.fullmatch(public_key)):
        return None
    raw = base64.urlsafe_b64decode(public_key + "=")
    try:
        not_before = _key_time(entry.get("not_before"))
        not_after = None if entry.get("not_after") is None else _key_time(entry["not_after"])
    except ValueError:
        return None
    if not is_valid_public_key(raw):
        return None
    return VerifierKey(public_key=raw, status=status, not_before=not_before, not_after=not_after)


def verify_pass(
    text: str,
    *,
    find_key: Callable[[int, int], VerifierKey | None],
    is_known_issuer: Callable[[int], bool],
    tier_levels: Container[int],
    now: int,
    skew: int,
    issuer_tier_levels: Mapping[int, Container[int]] | None = None,
) -> PassClaims:
    """Apply the twelve rules of docs/pass-format.md in order; return the claims or raise PassRejected.

    Rule 9 reads the pass's level against the levels its issuer publishes: `issuer_tier_levels`
    names them for the issuers that carry their own (a partner city with another ladder); every
    other issuer's passes, this city's own among them, are read against `tier_levels`."""
    claims, signed, signature = decode_unverified(text)
    if not is_known_issuer(claims.issuer):
        raise PassRejected("pass_unknown_issuer", "issuer")
    key = find_key(claims.issuer, claims.kid)
    public_key = _public_key(key.public_key) if key is not None and key.status in KEY_STATUSES else None
    if public_key is None:
        raise PassRejected("pass_unknown_key", "key")
    if key.status == "revoked":
        raise PassRejected("pass_key_revoked", "revoked")
    try:
        public_key.verify(SIGNING_CONTEXT + signed, signature)
    except BadSignatureError:
        raise PassRejected("pass_invalid", "signature") from None
    published = (issuer_tier_levels or {}).get(claims.issuer, tier_levels)
    if not claims.kind or claims.tier not in published:
        raise PassRejected("pass_invalid", "claims")
    lifetime_ok = claims.issued_at < claims.expires_at <= claims.issued_at + MAX_LIFETIME_SECONDS
    key_window_ok = key.not_before - skew <= claims.issued_at and (
        key.not_after is None or claims.issued_at <= key.not_after + skew
    )
    if not (lifetime_ok and key_window_ok):
        raise PassRejected("pass_invalid", "window")
    if claims.issued_at > now + skew:
        raise PassRejected("pass_not_yet_valid", "not_yet_valid")
    if now >= claims.expires_at + skew:
        raise PassRejected("pass_expired", "expired")
    return claims
