"""GET /api/health: is the app serving, and can it reach its database, Redis and its read replica."""
from __future__ import annotations

import redis
from apiflask import APIBlueprint, Schema
from apiflask.fields import Integer, String
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from . import replica
from .extensions import db, redis_store, sentinel_view

bp = APIBlueprint("health", __name__, url_prefix="/api", tag="运行状态")


class HealthOut(Schema):
    status = String()
    database = String()
    redis = String()
    replica = String(metadata={"description": "仅在配置了只读副本时出现：ok、lagging（落后超过上限）或 down；"
                                              "后两种情况下统计、导出与案例反馈改读主库"})
    redis_mode = String(metadata={"description": "仅在配置了 Redis 哨兵时出现：sentinel"})
    redis_master = String(allow_none=True, metadata={
        "description": "哨兵模式下哨兵当前指定的 Redis 主节点（host:port）；切换进行中、尚无公认主节点时为 null"})
    redis_failover_epoch = Integer(allow_none=True, metadata={
        "description": "哨兵模式下哨兵的配置纪元：每完成一次主从切换加一"})


@bp.get("/health")
@bp.output(HealthOut)
@bp.doc(summary="健康检查", description="Redis 不可用时仍返回 200，redis 字段为 down：核销照常进行。"
                                    "只读副本落后或不可用时也返回 200：统计与导出改读主库。")
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
    answer = {"status": status, "database": database, "redis": redis_state}
    if (sentinel := sentinel_view(redis_store.client)) is not None:  # only with Sentinel, as for the replica
        answer.update(redis_mode="sentinel", redis_master=sentinel["master"], redis_failover_epoch=sentinel["epoch"])
    replica_state = replica.standing().status
    if replica_state != "off":  # only where a replica is set: without one the answer is as it always was
        answer["replica"] = replica_state
    return answer, 200 if database == "ok" else 503


@bp.get("/ping")
@bp.doc(summary="存活检查", description="不访问数据库与 Redis 的最小端点；基准测试以它为比较基线。")
def ping():
    return {"pong": True}
