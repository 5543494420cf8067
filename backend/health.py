"""GET /api/health: is the app serving, and can it reach its database and Redis."""
from __future__ import annotations

import redis
from apiflask import APIBlueprint, Schema
from apiflask.fields import String
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .extensions import db, redis_store

bp = APIBlueprint("health", __name__, url_prefix="/api", tag="运行状态")


class HealthOut(Schema):
    status = String()
    database = String()
    redis = String()


@bp.get("/health")
@bp.output(HealthOut)
@bp.doc(summary="健康检查", description="Redis 不可用时仍返回 200，redis 字段为 down：核销照常进行。")
def health():
    try:
        db.session.execute(text("select 1"))
        database = "ok"
    except SQLAlchemyError:
        database = "down"
    try:
        redis_store.client.ping()
        redis_state = "ok"
    except redis.RedisError:
        redis_state = "down"
    status = "ok" if database == "ok" else "degraded"
    return {"status": status, "database": database, "redis": redis_state}, 200 if database == "ok" else 503


@bp.get("/ping")
@bp.doc(summary="存活检查", description="不访问数据库与 Redis 的最小端点；基准测试以它为比较基线。")
def ping():
    return {"pong": True}
