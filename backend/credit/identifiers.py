"""Chinese identifiers: check digits of resident ID numbers (GB 11643) and unified social credit codes
(GB 32100), and the keyed hash under which a credit subject's identifier is kept."""
from __future__ import annotations

import hashlib
import hmac
import re

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, Z, S, V
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")
_USCC_SHAPE = re.compile(rf"^[{_USCC_ALPHABET}]{{18}}$")


def id_number_check_char(first17: str) -> str:
    return _ID_CHECK[sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS)) % 11]


def is_valid_id_number(value: str) -> bool:
    value = value.strip().upper()
    return bool(_ID_SHAPE.match(value)) and id_number_check_char(value[:17]) == value[17]


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_ALPHABET.index(ch) * w for ch, w in zip(first17, _USCC_WEIGHTS))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(value: str) -> bool:
    value = value.strip().upper()
    return bool(_USCC_SHAPE.match(value)) and uscc_check_char(value[:17]) == value[17]


def identity_hash(*, pepper: str, identifier: str) -> str:
    """Keyed hash under which an ID number or credit code is stored and matched (never the plaintext)."""
    normalised = identifier.strip().upper()
    return hmac.new(pepper.encode(), normalised.encode(), hashlib.sha256).hexdigest()
