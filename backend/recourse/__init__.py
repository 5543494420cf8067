"""Citizens' recourse: my credit and why, my history, objections and complaints, and their answers."""
from .views import bp  # noqa: F401
