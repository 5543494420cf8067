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


def test_sentinels_are_read_as_host_port_pairs_with_the_master_name(monkeypatch):
    monkeypatch.setenv("REDIS_SENTINELS", "10.0.0.1:26379, 10.0.0.2:26380,10.0.0.3")
    monkeypatch.setenv("REDIS_SENTINEL_MASTER", "xinyongma")
    settings = config.from_env()
    assert settings["REDIS_SENTINELS"] == [("10.0.0.1", 26379), ("10.0.0.2", 26380), ("10.0.0.3", 26379)]
    assert settings["REDIS_SENTINEL_MASTER"] == "xinyongma"


def test_the_rate_limits_use_the_same_sentinels_and_the_urls_database():
    from backend.extensions import rate_limit_storage
    uri, options = rate_limit_storage({"REDIS_SENTINELS": "10.0.0.1:26379,10.0.0.2:26379", "REDIS_PREFIX": "x:",
                                       "REDIS_SENTINEL_MASTER": "xinyongma", "REDIS_URL": "redis://:pw@h/3"})
    assert uri == "redis+sentinel://10.0.0.1:26379,10.0.0.2:26379/xinyongma"
    assert options["db"] == 3 and options["password"] == "pw" and options["key_prefix"] == "x:rl"
    assert options["use_replicas"] is False  # counters are read on the master that wrote them
    assert rate_limit_storage({"REDIS_SENTINELS": [], "REDIS_PREFIX": "x:", "REDIS_URL": "redis://h/3"})[0] == "redis://h/3"


def test_without_sentinels_health_says_nothing_of_them(app):
    answer = app.test_client().get("/api/health").json
    assert answer["redis"] == "ok" and "redis_mode" not in answer and "redis_master" not in answer
