"""A city's reference data (issuer, tiers and their ladder, areas, scenarios, partners and perks,
holiday calendars) as a TOML file that `flask city load FILE` applies idempotently."""
from .views import bp  # noqa: F401
