"""QR images of passes: version 6-M, read back by a real decoder, with the standard's best mask."""
from __future__ import annotations

import importlib
import io
import random
import re

import pytest
import qrcode
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from qrcode import util
from qrcode.constants import ERROR_CORRECT_M

codec = importlib.import_module("backend.pass.codec")
qr = importlib.import_module("backend.pass.qr")
pytestmark = pytest.mark.database_independent

# Every pass is 95 bytes, so every pass text is the longest: 147 characters.
LONGEST = [codec.PREFIX + codec.b45encode(b"\x01" + bytes([fill]) * 94) for fill in (0x01, 0xFF, 0xA5)]
# Pass bodies are mostly signature and cipher output, so random bytes. (Not hypothesis's binary():
# it favours long runs of zero bytes, and qrcode 8.2's Reed-Solomon code raises ValueError("glog(0)")
# when a whole 27-byte data block is zero, which no signed pass can produce.)
pass_texts = st.integers(0, 2**64).map(
    lambda seed: codec.PREFIX + codec.b45encode(b"\x01" + random.Random(seed).randbytes(94)))


def decode_png(data: bytes):
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(data)), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(found) == 1
    return found[0]


def test_every_pass_fits_version_6_at_level_m():
    for text in LONGEST:
        assert len(text) == codec.TEXT_LEN == 147 <= 154
        assert set(text) <= set(codec.BASE45_ALPHABET)  # all alphanumeric mode
        smallest = qrcode.QRCode(error_correction=ERROR_CORRECT_M)
        smallest.add_data(text, optimize=0)
        smallest.make(fit=True)
        assert smallest.version == 6  # the library's own fitting: 6 is the smallest that holds it
        made = qr.symbol(text)
        assert (made.version, made.error_correction, made.modules_count) == (6, ERROR_CORRECT_M, 41)


def test_a_real_decoder_reads_version_6_level_m_with_our_mask():
    for text in LONGEST:
        found = decode_png(qr.png(text))
        assert found.text == text
        assert (found.extra["Version"], found.extra["ECLevel"]) == ("6", "M")
        assert found.extra["DataMask"] == qr.symbol(text).mask_pattern


@settings(max_examples=40, deadline=None)
@given(pass_texts)
def test_mask_penalties_equal_the_reference_implementation(text):
    reference = qrcode.QRCode(version=6, error_correction=ERROR_CORRECT_M)
    reference.add_data(text, optimize=0)
    for mask in range(8):
        reference.makeImpl(True, mask)  # the symbol as the search scores it: no format information yet
        assert qr.penalty(qr.pack(reference.modules)) == util.lost_point(reference.modules)


@settings(max_examples=40, deadline=None)
@given(pass_texts)
def test_chosen_mask_and_symbol_equal_the_standard_search(text):
    reference = qrcode.QRCode(version=6, error_correction=ERROR_CORRECT_M)
    reference.add_data(text, optimize=0)
    reference.make(fit=False)  # qrcode's automatic search over all eight masks
    made = qr.symbol(text)
    assert made.mask_pattern == reference.best_mask_pattern()
    reference.makeImpl(False, made.mask_pattern)
    assert made.modules == reference.modules


def test_penalty_rules_on_hand_made_symbols():
    blank = [[False] * 41 for _ in range(41)]
    # All light: 82 runs of 41 (39 points each), 40 x 40 blocks, no finder-like windows (no dark), 50% off.
    assert qr.penalty(qr.pack(blank)) == 82 * 39 + 3 * 40 * 40 + 0 + 100
    assert qr.penalty(qr.pack(blank)) == util.lost_point(blank)
    row = [bool(int(b)) for b in "10111010000" + "0" * 30]
    one = [row] + [[False] * 41 for _ in range(40)]
    assert qr.penalty(qr.pack(one)) == util.lost_point(one)


def test_svg_draws_exactly_the_symbol():
    text = LONGEST[2]
    modules = qr.symbol(text).modules
    drawn = [[False] * 41 for _ in range(41)]
    for x, y, width in re.findall(rb"M(\d+) (\d+)h(\d+)v1h-\d+z", qr.svg(text)):
        for col in range(int(x) - qr.BORDER, int(x) - qr.BORDER + int(width)):
            drawn[int(y) - qr.BORDER][col] = True
    assert drawn == modules


def test_png_is_one_bit_with_quiet_zone():
    image = Image.open(io.BytesIO(qr.png(LONGEST[0])))
    assert image.mode == "1" and image.size == ((41 + 2 * qr.BORDER) * qr.BOX,) * 2
    assert all(image.getpixel((x, x)) == 255 for x in range(qr.BORDER * qr.BOX))  # quiet zone is white
    assert image.getpixel((qr.BORDER * qr.BOX, qr.BORDER * qr.BOX)) == 0  # finder corner is dark
