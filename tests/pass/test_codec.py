"""The pass format against its shared test vectors (the scanner's JavaScript tests read the same file)."""
from __future__ import annotations

import importlib

import pytest

from tests.helpers import ISSUERS, KEYS, LEVELS, LISTED, VECTORS, VECTORS_PATH, b64url_decode, verify_with_vectors

codec = importlib.import_module("backend.pass.codec")
verify = verify_with_vectors

pytestmark = pytest.mark.database_independent


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[case["name"] for case in VECTORS["cases"]])
def test_vector(case):
    now = case.get("now", VECTORS["now"])
    if case["valid"]:
        claims = verify(case["token"], now)
        expected = case["claims"]
        assert (claims.issuer, claims.kid, claims.kind, claims.tier, claims.issued_at, claims.expires_at,
                claims.pass_id) == (expected["issuer"], expected["kid"], expected["kind"], expected["tier"],
                                    expected["issued_at"], expected["expires_at"], expected["pass_id"])
    else:
        with pytest.raises(codec.PassRejected) as rejected:
            verify(case["token"], now)
        assert (rejected.value.code, rejected.value.reason) == (case["code"], case["reason"])


def test_the_key_list_drops_exactly_the_keys_marked_so():
    dropped = {(issuer["issuer"], key["kid"]) for issuer in VECTORS["issuers"] for key in issuer["keys"]
               if "dropped_because" in key}
    assert dropped and {where for where, key in LISTED.items() if key is None} == dropped


def test_key_times_are_truncated_to_whole_seconds():
    kid4 = next(key for key in VECTORS["issuers"][0]["keys"] if key["kid"] == 4)
    assert kid4["not_before"].endswith(":20.9Z") and KEYS[(230184, 4)].not_before == VECTORS["now"] - 100
    listing = {**kid4, "not_before": "2027-01-15T07:58:20.999999999+00:00"}
    assert codec.verifier_key_from_listing(listing).not_before == VECTORS["now"] - 100
    for malformed in ["2027-01-15T07:58:20", "2027-01-15 07:58:20Z", "2027-02-30T07:58:20Z",
                      "2027-01-15T07:58:20+08:00", 1799999900, None]:
        assert codec.verifier_key_from_listing({**kid4, "not_before": malformed}) is None, malformed


@pytest.mark.parametrize("encoding", VECTORS["small_order_keys"])
def test_every_encoding_of_a_small_order_point_is_refused_as_a_key(encoding):
    assert not codec.is_valid_public_key(b64url_decode(encoding))
    listing = {**VECTORS["issuers"][0]["keys"][1], "public_key": encoding}
    assert codec.verifier_key_from_listing(listing) is None


def test_a_small_order_key_is_unknown_even_when_handed_straight_to_the_verifier():
    # The server's own ring comes from its database, not from a key list: verify_pass checks the
    # key itself, once (cached), so a small-order key that got there anyway verifies nothing.
    forged = next(case for case in VECTORS["cases"] if case["name"].startswith("small-order key (identity)"))
    identity = codec.VerifierKey(public_key=(1).to_bytes(32, "little"), status="active",
                                 not_before=VECTORS["now"] - 3600, not_after=None)
    with pytest.raises(codec.PassRejected) as rejected:
        verify(forged["token"], find_key=lambda issuer, kid: identity)
    assert (rejected.value.code, rejected.value.reason) == ("pass_unknown_key", "key")


def test_rule_9_reads_a_partners_pass_by_the_levels_it_publishes_when_it_publishes_its_own():
    """The vectors' 石家庄 publishes levels 2-5: its level 5 passes, our level 1 does not; without its
    own list the same passes are read against ours (the ladder cases would flip)."""
    (ladder,) = [issuer for issuer in VECTORS["issuers"] if "tier_levels" in issuer]
    assert set(ladder["tier_levels"]) == {"2", "3", "4", "5"} and ladder["local"] is False
    cases = {case["name"]: case for case in VECTORS["cases"]}
    five = cases["partner issuer with its own levels: its level 5, which we do not have"]["token"]
    one = cases["partner issuer with its own levels: our level 1, not in its list"]["token"]
    assert verify(five).tier == 5 and 5 not in LEVELS

    def by_our_levels(text):
        return codec.verify_pass(text, find_key=lambda i, k: KEYS.get((i, k)), is_known_issuer=ISSUERS.__contains__,
                                 tier_levels=LEVELS, now=VECTORS["now"], skew=VECTORS["skew_seconds"])
    with pytest.raises(codec.PassRejected) as rejected:
        by_our_levels(five)
    assert rejected.value.reason == "claims"
    assert by_our_levels(one).tier == 1


def test_vectors_file_is_what_the_generator_produces():
    generator = importlib.import_module("tests.vectors.make_pass_vectors")
    assert VECTORS_PATH.read_text(encoding="utf-8") == generator.render()


def test_vectors_cover_every_rejection_rule():
    reasons = {case["reason"] for case in VECTORS["cases"] if not case["valid"]}
    assert reasons == {"prefix", "encoding", "version", "length", "issuer", "key", "revoked", "signature",
                       "claims", "window", "not_yet_valid", "expired"}


def test_every_pass_has_the_fixed_length():
    assert codec.TEXT_LEN == 147 <= 154
    assert all(len(case["token"]) == 147 for case in VECTORS["cases"] if case["valid"])


def test_sealed_reference_round_trips():
    key = bytes(range(32))
    sealed = codec.seal_holder(key, 2**63 + 5)
    assert codec.open_holder(key, sealed) == 2**63 + 5
    assert codec.seal_holder(key, 7) != codec.seal_holder(key, 7)  # fresh randomness each time


def test_one_aes_context_per_key_seals_and_opens_right_from_many_threads_at_once():
    # Each key's ECB context is shared (its key expanded once): threads must never see each other's block.
    from concurrent.futures import ThreadPoolExecutor
    keys = [bytes([n]) * 32 for n in range(3)]

    def round_trips(worker: int) -> bool:
        return all(codec.open_holder(keys[n % 3], codec.seal_holder(keys[n % 3], worker * 10_000 + n)) == worker * 10_000 + n
                   for n in range(3000))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(round_trips, range(8)))
    # A reference of the wrong size is refused, never left half in the shared context.
    with pytest.raises(ValueError):
        codec.open_holder(keys[0], b"\x00" * 15)
    assert codec.open_holder(keys[0], codec.seal_holder(keys[0], 42)) == 42


@pytest.mark.parametrize("data", [b"", b"\x00", b"ab", b"\xff\xff", bytes(range(256))])
def test_base45_round_trip(data):
    assert codec.b45decode(codec.b45encode(data)) == data


def test_base45_rfc9285_examples():
    assert codec.b45encode(b"AB") == "BB8"
    assert codec.b45encode(b"Hello!!") == "%69 VD92EX0"
    assert codec.b45encode(b"base-45") == "UJCLQE7W581"
    assert codec.b45decode("QED8WEX0") == b"ietf!"


@pytest.mark.parametrize("text, why", [
    ("A", "a lone character is no group"),
    ("AAAA", "four characters leave a lone one"),
    ("abc", "lower case is outside the alphabet"),
    ("中文信", "so is anything that is not ASCII"),
    ("AB\x00", "and a NUL"),
    (":::", "44 + 44*45 + 44*2025 = 91,124 does not fit two bytes"),
    ("GGW", "16 + 16*45 + 32*2025 = 65,536 is one too many"),
    ("AAA::", "a last pair above 255 does not fit a byte"),
])
def test_base45_refuses_malformed_text(text, why):
    with pytest.raises(ValueError):
        codec.b45decode(text)


def test_base45_decodes_the_largest_groups():
    assert codec.b45decode("FGW") == b"\xff\xff"  # 15 + 15*45 + 32*2025 = 65,535
    assert codec.b45decode("U5") == b"\xff"  # 30 + 5*45 = 255
