"""The 信用码: format, key ring, issuing, QR images and the public key list."""
from .views import bp  # noqa: F401
