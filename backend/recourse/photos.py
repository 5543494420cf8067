"""Photos attached to objections: checked by their content, cleaned, and kept in files outside the database.

A photo is accepted only if its first bytes say JPEG, PNG or WebP *and* Pillow decodes it as that
format (the name and the browser's Content-Type are ignored: both are the sender's claim). It is
then re-encoded from its pixels, which drops EXIF (a phone's GPS position, its serial number) and
anything smuggled after the image data, after turning it upright as its EXIF said.

Files go to OBJECTION_PHOTO_DIR under 32 random hex digits: never a name the sender chose, never an
id (ids are per database, and several test workers or deployments may share one folder: the credit
upload learnt this), so two writers can never overwrite each other.
"""
from __future__ import annotations

import io
import secrets
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import DomainError, ErrorCode

# Pillow's format name, the MIME type served, and the file suffix of each accepted type.
FORMATS = {"JPEG": ("image/jpeg", ".jpg"), "PNG": ("image/png", ".png"), "WEBP": ("image/webp", ".webp")}
# A phone photo is 12-50 megapixels; more is a decompression bomb rather than evidence.
MAX_PIXELS = 60_000_000


def sniff(head: bytes) -> str | None:
    """The format the magic bytes name, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def cleaned(data: bytes, *, max_bytes: int) -> tuple[bytes, str]:
    """The photo re-encoded without metadata, and its MIME type; refuses what is not a photo we take."""
    if len(data) > max_bytes:
        raise DomainError(ErrorCode.PAYLOAD_TOO_LARGE, f"照片不能超过 {max_bytes / (1 << 20):g} MB")
    kind = sniff(data[:16])
    if kind is None:
        raise DomainError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "只能上传照片（手机拍摄或截图的图片），不支持该文件格式")
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise DomainError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "照片尺寸过大，请压缩后再上传")
            image.load()
            upright = ImageOps.exif_transpose(image)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        # SyntaxError and ValueError are how some of Pillow's decoders say "broken file".
        raise DomainError(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "照片无法识别，请重新拍摄后上传") from None
    upright.info.clear()  # nothing of the original's metadata travels into the copy we keep
    if kind == "JPEG" and upright.mode not in ("RGB", "L"):
        upright = upright.convert("RGB")
    elif kind == "WEBP" and upright.mode not in ("RGB", "RGBA"):
        upright = upright.convert("RGBA")
    out = io.BytesIO()
    upright.save(out, format=kind, **({"quality": 88} if kind in ("JPEG", "WEBP") else {"optimize": True}))
    return out.getvalue(), FORMATS[kind][0]


def store(data: bytes, *, content_type: str, folder: str) -> str:
    """Write the photo under a new random name in `folder`; returns the name."""
    suffix = next(s for mime, s in FORMATS.values() if mime == content_type)
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16) + suffix
    with (path / name).open("xb") as handle:  # "x": a name taken already is an error, never an overwrite
        handle.write(data)
    return name


def path_of(name: str, *, folder: str) -> Path:
    return Path(folder) / name


def remove(names: list[str], *, folder: str) -> None:
    """Remove these photos' files from `folder` (those already gone are no error). A name that is not
    a bare file name, which `store` never writes, is left alone rather than followed out of the folder."""
    for name in names:
        if name and Path(name).name == name and name not in (".", ".."):
            (Path(folder) / name).unlink(missing_ok=True)
