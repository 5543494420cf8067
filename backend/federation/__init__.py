"""多地互认: this city's signed trust list, and the partner cities whose lists it applies."""
from .views import bp  # noqa: F401
