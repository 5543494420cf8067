"""QR images of passes: PNG for the mini-program, SVG for the citizen page.

A pass is always 147 characters in alphanumeric mode, so it is always QR version 6 at level M.

Mask choice. ISO/IEC 18004 has the encoder try all eight data masks and keep the one with the
lowest penalty (N1 runs of five or more, N2 2x2 blocks, N3 finder-like 1:1:3:1:1 patterns, N4
dark/light balance), scored, as its encoding procedure orders it, before the format information
is drawn. The mask matters for scanning: a bad one leaves finder-like patterns and large blocks
that confuse a cheap camera, so a fixed mask is not an option. qrcode does the search by building
the symbol eight times and scoring it cell by cell in Python (about 5 ms, more than everything
else together). Here the symbol is packed into one Python integer, one bit per module, so that a
row neighbour is a shift by 1 and a column neighbour a shift by the row stride: each rule becomes
a few big-integer operations over the whole symbol at once, about 15 us per mask. The symbol is
built once, unmasked by XOR, re-masked eight times, and finally drawn by qrcode with the chosen
mask. tests/pass/test_qr.py proves, on random passes, that the penalties equal qrcode's own
`util.lost_point` and the choice equals its `best_mask_pattern()`.
"""
from __future__ import annotations

import functools
import io

import qrcode
from PIL import Image
from qrcode import util
from qrcode.constants import ERROR_CORRECT_M

QR_VERSION = 6
SIZE = QR_VERSION * 4 + 17  # 41 modules
STRIDE = SIZE + 1  # one always-zero guard bit per row: no shift can carry a row's end into the next row
BOX = 8  # pixels per module in the PNG
BORDER = 4  # quiet zone, in modules (the standard's minimum)

_FINDER_LIKE = ((1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0), (0, 0, 0, 0, 1, 0, 1, 1, 1, 0, 1))


def _bits(cells) -> int:
    out = 0
    for row, col in cells:
        out |= 1 << (row * STRIDE + col)
    return out


def pack(modules) -> int:
    """The symbol as an integer: bit row * STRIDE + col is set for a dark module."""
    out = 0
    for row, line in enumerate(modules):
        out |= int(bytes(reversed(line)).translate(_DIGITS), 2) << (row * STRIDE)
    return out


_DIGITS = bytes.maketrans(b"\x00\x01", b"01")


@functools.cache
def _layout() -> dict:
    """Per-version constants: where the data modules are, each mask over them, and rule windows."""
    blank = qrcode.QRCode(version=QR_VERSION, error_correction=ERROR_CORRECT_M)
    blank.modules_count = SIZE
    blank.modules = [[None] * SIZE for _ in range(SIZE)]
    for row, col in ((0, 0), (SIZE - 7, 0), (0, SIZE - 7)):
        blank.setup_position_probe_pattern(row, col)
    blank.setup_position_adjust_pattern()
    blank.setup_timing_pattern()
    blank.setup_type_info(True, 0)
    data = [(r, c) for r in range(SIZE) for c in range(SIZE) if blank.modules[r][c] is None]
    cells = [(r, c) for r in range(SIZE) for c in range(SIZE)]
    return {
        "masks": [_bits((r, c) for r, c in data if util.mask_func(i)(r, c)) for i in range(8)],
        "full": _bits(cells),
        "pair_h": _bits((r, c) for r, c in cells if c <= SIZE - 2),
        "pair_v": _bits((r, c) for r, c in cells if r <= SIZE - 2),
        "win_h": _bits((r, c) for r, c in cells if c <= SIZE - 11),
        "win_v": _bits((r, c) for r, c in cells if r <= SIZE - 11),
    }


def _runs(equal: int, step: int) -> int:
    # A run of L >= 5 equal modules costs 3 + (L - 5) = (L - 4) + 2: one point per five-module
    # window inside it, plus two per run (a window whose predecessor is not also a window).
    windows = equal & (equal >> step) & (equal >> 2 * step) & (equal >> 3 * step)
    return windows.bit_count() + 2 * (windows & ~(windows << step)).bit_count()


def _finder_like(dark: int, light: int, step: int, valid: int) -> int:
    shifted = [(dark >> k * step, light >> k * step) for k in range(11)]
    found = 0
    for pattern in _FINDER_LIKE:
        match = valid
        for (d, l), bit in zip(shifted, pattern):
            match &= d if bit else l
        found += match.bit_count()
    return found


def penalty(dark: int) -> int:
    """ISO/IEC 18004 mask penalty N1 + N2 + N3 + N4 of a packed symbol (as qrcode's util.lost_point)."""
    layout = _layout()
    full = layout["full"]
    light = full ^ dark
    equal_h = (full ^ dark ^ (dark >> 1)) & layout["pair_h"]  # module equals its right neighbour
    equal_v = (full ^ dark ^ (dark >> STRIDE)) & layout["pair_v"]  # module equals the one below
    n1 = _runs(equal_h, 1) + _runs(equal_v, STRIDE)
    n2 = 3 * (equal_h & (equal_h >> STRIDE) & equal_v).bit_count()
    n3 = 40 * (_finder_like(dark, light, 1, layout["win_h"]) + _finder_like(dark, light, STRIDE, layout["win_v"]))
    # N4 in qrcode's exact arithmetic, so that a tie can never be broken differently.
    n4 = int(abs(dark.bit_count() / SIZE**2 * 100 - 50) / 5) * 10
    return n1 + n2 + n3 + n4


def best_mask(qr: qrcode.QRCode) -> int:
    """The mask with the lowest penalty (the first on a tie), evaluated without format information."""
    qr.makeImpl(True, 0)
    masks = _layout()["masks"]
    unmasked = pack(qr.modules) ^ masks[0]
    scores = [penalty(unmasked ^ mask) for mask in masks]
    return scores.index(min(scores))


def symbol(text: str) -> qrcode.QRCode:
    """The finished version-6-M symbol of a pass, with the standard's best mask."""
    qr = qrcode.QRCode(version=QR_VERSION, error_correction=ERROR_CORRECT_M, box_size=BOX, border=BORDER)
    qr.add_data(text, optimize=0)
    qr.mask_pattern = best_mask(qr)
    qr.makeImpl(False, qr.mask_pattern)
    return qr


# One byte per module in a 1-bit image 8 pixels per module wide: 0x00 black (dark), 0xFF white.
_PIXELS = bytes.maketrans(b"\x00\x01", b"\xff\x00")
_QUIET = b"\xff" * BORDER


def png(text: str) -> bytes:
    modules = symbol(text).modules
    width = SIZE + 2 * BORDER
    blank_rows = (b"\xff" * width) * (BOX * BORDER)
    rows = b"".join((_QUIET + bytes(line).translate(_PIXELS) + _QUIET) * BOX for line in modules)
    image = Image.frombytes("1", (width * BOX, width * BOX), blank_rows + rows + blank_rows)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def svg(text: str) -> bytes:
    """One path of horizontal runs of dark modules on a white square, in module units."""
    modules = symbol(text).modules
    width = SIZE + 2 * BORDER
    path = []
    for row, line in enumerate(modules):
        col = 0
        while col < SIZE:
            if line[col]:
                start = col
                while col < SIZE and line[col]:
                    col += 1
                path.append(f"M{start + BORDER} {row + BORDER}h{col - start}v1h{start - col}z")
            col += 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {width}" width="{width * BOX}" '
        f'height="{width * BOX}" shape-rendering="crispEdges"><rect width="{width}" height="{width}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(path)}"/></svg>'
    ).encode()
