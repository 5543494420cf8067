"""The citizens' WeChat-style H5 pages, the office dashboard, and the scanner's static files."""
from .views import bp  # noqa: F401
