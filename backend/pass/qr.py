"""QR images of passes: PNG for the mini-program, SVG for the citizen page.

A pass is always 147 characters in alphanumeric mode, so it is always QR version 6 at level M.
"""
from __future__ import annotations

import io

import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.svg import SvgPathImage

QR_VERSION = 6


def _qr(text: str) -> qrcode.QRCode:
    qr = qrcode.QRCode(version=QR_VERSION, error_correction=ERROR_CORRECT_M, box_size=8, border=4)
    qr.add_data(text, optimize=0)
    qr.make(fit=False)
    return qr


def png(text: str) -> bytes:
    buffer = io.BytesIO()
    _qr(text).make_image().save(buffer, format="PNG")
    return buffer.getvalue()


def svg(text: str) -> bytes:
    buffer = io.BytesIO()
    _qr(text).make_image(image_factory=SvgPathImage).save(buffer)
    return buffer.getvalue()
