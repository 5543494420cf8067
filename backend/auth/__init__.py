"""Sign-in and roles of citizens, companies, merchants and the credit office."""
from .views import bp  # noqa: F401
