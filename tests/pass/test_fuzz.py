"""Property tests: whatever text a camera reads, the verifier only ever raises PassRejected, and it
accepts a pass only when the bytes are exactly ones a trusted key signed."""
from __future__ import annotations

import importlib

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.helpers import VECTORS, verify_with_vectors

codec = importlib.import_module("backend.pass.codec")
pytestmark = [pytest.mark.slow, pytest.mark.database_independent]  # hundreds of examples a test

VALID = [case["token"] for case in VECTORS["cases"] if case["valid"]]
INVALID = [case["token"] for case in VECTORS["cases"] if not case["valid"]]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def verdict(text):
    """('ok', claims) or ('rejected', code); anything else escapes and fails the test."""
    try:
        return "ok", verify_with_vectors(text)
    except codec.PassRejected as rejected:
        assert rejected.code in {"pass_invalid", "pass_expired", "pass_not_yet_valid", "pass_key_revoked",
                                 "pass_unknown_issuer", "pass_unknown_key"}
        return "rejected", rejected.code


@FUZZ
@given(st.one_of(st.text(), st.text(alphabet=codec.BASE45_ALPHABET).map(lambda t: codec.PREFIX + t),
                 st.binary().map(lambda b: codec.PREFIX + codec.b45encode(b)),
                 st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
@example("")
@example(codec.PREFIX)
@example(codec.PREFIX + "\x00" * 143)
@example(codec.PREFIX + ":::")
def test_random_text_is_only_ever_rejected(text):
    assert verdict(text)[0] == "rejected"


def _mutate_bytes(raw: bytearray, op: str, position: int, value: int) -> bytearray:
    position %= len(raw) + 1
    if op == "flip" and position < len(raw):
        raw[position] ^= (value % 255) + 1  # never a no-op
    elif op == "insert":
        raw.insert(position, value)
    elif op == "delete" and position < len(raw):
        del raw[position]
    elif op == "truncate":
        del raw[position:]
    return raw


def _mutate_text(text: str, op: str, position: int, value: int) -> str:
    position %= len(text) + 1
    char = codec.BASE45_ALPHABET[value % 45]
    if op == "substitute" and position < len(text):
        return text[:position] + char + text[position + 1:]
    if op == "insert":
        return text[:position] + char + text[position:]
    if op == "delete":
        return text[:position] + text[position + 1:]
    if op == "truncate":
        return text[:position]
    return text


mutations = st.lists(st.tuples(st.sampled_from(["bytes", "text"]),
                               st.sampled_from(["flip", "insert", "delete", "truncate", "substitute"]),
                               st.integers(0, 200), st.integers(0, 255)), min_size=1, max_size=4)


@FUZZ
@given(st.sampled_from(VALID), mutations)
def test_mutated_passes_are_accepted_only_if_they_are_the_signed_bytes(token, steps):
    original = codec.b45decode(token[len(codec.PREFIX):])
    text = token
    for level, op, position, value in steps:
        if level == "bytes":
            try:
                raw = bytearray(codec.b45decode(text[len(codec.PREFIX):]))
            except ValueError:
                continue  # an earlier text mutation broke the encoding; keep mutating the text
            text = codec.PREFIX + codec.b45encode(bytes(_mutate_bytes(raw, op, position, value)))
        else:
            text = codec.PREFIX + _mutate_text(text[len(codec.PREFIX):], op, position, value)
    outcome, _ = verdict(text)
    if outcome == "ok":
        # base45 is canonical, so accepted text decodes to exactly the bytes a trusted key signed.
        assert codec.b45decode(text[len(codec.PREFIX):]) == original


@FUZZ
@given(st.sampled_from(VALID), st.integers(0, codec.PASS_LEN - 1), st.integers(1, 255))
def test_any_single_byte_change_is_refused(token, position, mask):
    raw = bytearray(codec.b45decode(token[len(codec.PREFIX):]))
    raw[position] ^= mask
    assert verdict(codec.PREFIX + codec.b45encode(bytes(raw)))[0] == "rejected"


@FUZZ
@given(st.sampled_from(INVALID), mutations)
def test_mutated_invalid_passes_never_crash_the_verifier(token, steps):
    text = token
    for _, op, position, value in steps:
        text = _mutate_text(text, op, position, value)
    verdict(text)
