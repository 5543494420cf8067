"""redemptions and failed_attempts partitioned by month on PostgreSQL

Revision ID: 0019_partition_redemptions
Revises: 0018_rollup_by_issuer
Create Date: 2026-12-01 15:30:00

PostgreSQL only (SQLite keeps the plain tables). Each table is rebuilt as a partitioned table with
the same columns, defaults, checks and sequence: a partition per month from its oldest row's month
to three months ahead, and a DEFAULT partition; every row is copied in one transaction (the table is
locked meanwhile: redemptions wait, none is lost), then the old table is dropped and the new one takes
its name. Why the keys are what they are: backend/merchants/partitions.py.
* redemptions by local_day: primary key (id, local_day); the unique keys (client_id, local_day),
  (pass_id, perk_id, local_day) and (perk_id, subject_id, local_day, day_slot); its indexes again.
* failed_attempts by at (UTC months): primary key (id, at).
* The foreign keys objections.redemption_id and redemption_conflicts.redemption_id are dropped: a
  foreign key can point at a partitioned table only through its partition key.
The downgrade rebuilds plain tables with the constraints of 0011, with the rows the partitioned tables
hold: attach again any month detached by `flask partitions detach` first, or its rows stay behind.
"""
from datetime import date, datetime, timezone
from zoneinfo import ZoneInfo

from alembic import op
from sqlalchemy import text

revision = '0019_partition_redemptions'
down_revision = '0018_rollup_by_issuer'
branch_labels = None
depends_on = None

MONTHS_AHEAD = 3

REDEMPTIONS_KEYS = [
    "alter table redemptions add constraint pk_redemptions primary key (id{k})",
    "alter table redemptions add constraint uq_redemptions_client_id unique (client_id{k})",
    "alter table redemptions add constraint uq_redemptions_pass_id_perk_id unique (pass_id, perk_id{k})",
    "alter table redemptions add constraint uq_redemptions_perk_id_subject_id_local_day_day_slot "
    "unique (perk_id, subject_id, local_day, day_slot)",
    "alter table redemptions add constraint uq_redemptions_perk_id_visitor_tag_local_day_day_slot "
    "unique (perk_id, visitor_tag, local_day, day_slot)",
    "alter table redemptions add constraint fk_redemptions_device_id_devices foreign key (device_id) "
    "references devices (id)",
    "alter table redemptions add constraint fk_redemptions_perk_id_perks foreign key (perk_id, partner_id) "
    "references perks (id, partner_id)",
    "alter table redemptions add constraint fk_redemptions_staff_id_merchant_staff foreign key (staff_id) "
    "references merchant_staff (id)",
    "alter table redemptions add constraint fk_redemptions_subject_id_credit_subjects foreign key (subject_id) "
    "references credit_subjects (id)",
    "create index ix_redemptions_day_partner on redemptions (local_day, partner_id)",
    "create index ix_redemptions_voided_at on redemptions (voided_at) where voided_at is not null",
]
FAILED_ATTEMPTS_KEYS = [
    "alter table failed_attempts add constraint pk_failed_attempts primary key (id{k})",
    "alter table failed_attempts add constraint fk_failed_attempts_device_id_devices foreign key (device_id) "
    "references devices (id)",
    "alter table failed_attempts add constraint fk_failed_attempts_partner_id_partners foreign key (partner_id) "
    "references partners (id)",
    "alter table failed_attempts add constraint fk_failed_attempts_staff_id_merchant_staff foreign key (staff_id) "
    "references merchant_staff (id)",
    "alter table failed_attempts add constraint fk_failed_attempts_subject_id_credit_subjects "
    "foreign key (subject_id) references credit_subjects (id)",
]
REFERENCES = [  # what pointed at redemptions.id
    ("objections", "fk_objections_redemption_id_redemptions"),
    ("redemption_conflicts", "fk_redemption_conflicts_redemption_id_redemptions"),
]
TABLES = [("redemptions", "local_day", REDEMPTIONS_KEYS), ("failed_attempts", "at", FAILED_ATTEMPTS_KEYS)]


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _bound(key: str, month: date) -> str:
    return f"{month.isoformat()} 00:00:00" if key == "at" else month.isoformat()


def _rebuild(connection, table: str, key: str, keys: list[str], *, partitioned: bool) -> None:
    """The table again, as a partitioned one or a plain one, with every row and its sequence."""
    new = f"{table}_rebuilt"
    connection.execute(text(f"lock table {table} in access exclusive mode"))
    partition_by = f" partition by range ({key})" if partitioned else ""
    connection.execute(text(f"create table {new} (like {table} including defaults including constraints)"
                            f"{partition_by}"))
    if partitioned:
        oldest = connection.execute(text(f"select min({key}) from {table}")).scalar()
        today = datetime.now(timezone.utc).astimezone(ZoneInfo("Asia/Shanghai")).date()
        month = (min(oldest.date() if isinstance(oldest, datetime) else oldest, today) if oldest else today
                 ).replace(day=1)
        last = today.replace(day=1)
        for _ in range(MONTHS_AHEAD):
            last = _next_month(last)
        while month <= last:
            connection.execute(text(
                f"create table {table}_p{month:%Y_%m} partition of {new} for values from "
                f"('{_bound(key, month)}') to ('{_bound(key, _next_month(month))}')"))
            month = _next_month(month)
        connection.execute(text(f"create table {table}_default partition of {new} default"))
    connection.execute(text(f"insert into {new} select * from {table}"))
    connection.execute(text(f"alter sequence {table}_id_seq owned by {new}.id"))
    connection.execute(text(f"drop table {table}"))
    connection.execute(text(f"alter table {new} rename to {table}"))
    for statement in keys:
        connection.execute(text(statement.format(k=f", {key}" if partitioned else "")))


def upgrade():
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for table, name in REFERENCES:
        connection.execute(text(f"alter table {table} drop constraint {name}"))
    for table, key, keys in TABLES:
        _rebuild(connection, table, key, keys, partitioned=True)


def downgrade():
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for table, key, keys in TABLES:
        _rebuild(connection, table, key, keys, partitioned=False)
    for table, name in REFERENCES:
        connection.execute(text(f"alter table {table} add constraint {name} foreign key (redemption_id) "
                                "references redemptions (id)"))
