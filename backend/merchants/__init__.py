"""Partners, scenarios and perks, redemption, and each merchant's history."""
from .views import bp  # noqa: F401
