"""Credit subjects, tier ladders, red and black lists, bulk import."""
from .views import bp  # noqa: F401
