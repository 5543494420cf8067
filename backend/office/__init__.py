"""The credit office: statistics, exports, audit log, partner sign-up, anomaly review."""
from .views import bp  # noqa: F401
