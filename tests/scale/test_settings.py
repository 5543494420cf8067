"""DATABASE_REPLICA_URL becomes the `replica` bind, with psycopg named and a short connect timeout."""
from __future__ import annotations

from backend import config


def test_a_replica_url_becomes_the_replica_bind(monkeypatch):
    monkeypatch.setenv("DATABASE_REPLICA_URL", "postgres://reader@replica-host/xinyongma")
    monkeypatch.setenv("DATABASE_REPLICA_MAX_LAG_SECONDS", "2.5")
    settings = config.from_env()
    assert settings["SQLALCHEMY_BINDS"] == {"replica": {"url": "postgresql+psycopg://reader@replica-host/xinyongma",
                                                        "connect_args": {"connect_timeout": 2}}}
    assert settings["DATABASE_REPLICA_MAX_LAG_SECONDS"] == 2.5


def test_without_a_replica_url_there_is_no_bind(monkeypatch):
    monkeypatch.delenv("DATABASE_REPLICA_URL", raising=False)
    assert config.from_env()["SQLALCHEMY_BINDS"] == {}
