"""The results schema: campaigns, host snapshots, cells, runs and what each run measured.

The Alembic revisions in `migrations/versions` build exactly these tables (a unit test compares
them). Constraint names follow one naming convention because Alembic's batch mode, which SQLite
needs to alter a table, can only drop or change constraints it can name.
"""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class RunStatus(StrEnum):
    """Where a run stands: `pending → running → ok | failed | unsupported | interrupted`."""

    PENDING = "pending"
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    UNSUPPORTED = "unsupported"
    INTERRUPTED = "interrupted"


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out: SQLite itself keeps no time zone.

    Databases from labs in other time zones are merged, so every stored time is UTC.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value} would be stored without its time zone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """The tables' metadata, with its naming convention and the Python-to-column types."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime,
        str: String(255),
        dict[str, Any]: JSON,
    }


class Campaign(Base):
    """One spec as run: the same name with an edited spec is another campaign."""

    __tablename__ = "campaign"
    __table_args__ = (UniqueConstraint("name", "spec_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    spec_text: Mapped[str] = mapped_column(Text)
    spec_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[str]
    git_commit: Mapped[str | None]
    created_at: Mapped[datetime]


class HostSnapshot(Base):
    """A host's facts when it was measured: the provenance of every number."""

    __tablename__ = "host_snapshot"

    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str]
    kernel: Mapped[str]
    distro: Mapped[str | None]
    cpus: Mapped[int | None]
    mem_mb: Mapped[int | None]
    docker_version: Mapped[str | None]
    perf_version: Mapped[str | None]
    facts: Mapped[dict[str, Any]]
    taken_at: Mapped[datetime]


class Cell(Base):
    """Mode × size × proto × host (× netem) of a campaign, under its stable text key.

    `netem` is the tc-netem value put on the run's path, `none` for the path as it is (every
    cell of a spec without a netem axis).
    """

    __tablename__ = "cell"
    __table_args__ = (
        UniqueConstraint("campaign_id", "key"),
        Index(None, "campaign_id", "mode", "host"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    key: Mapped[str] = mapped_column(String(500))
    mode: Mapped[str]
    size: Mapped[int]
    proto: Mapped[str]
    host: Mapped[str]
    kernel: Mapped[str]
    netem: Mapped[str] = mapped_column(server_default="none")


class Run(Base):
    """One repetition of a cell.

    `global_id` (a UUID) names the run in every database it is merged into. Of the runs of one
    cell and repetition only the newest counts; the earlier ones are `superseded`, and
    `superseded_by` names the run that took their place once it has started.
    """

    __tablename__ = "run"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'running', 'ok', 'failed', 'unsupported', 'interrupted')",
            name="status",
        ),
        Index(None, "cell_id", "repetition"),
        Index(None, "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    global_id: Mapped[str] = mapped_column(String(36), unique=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("cell.id"))
    repetition: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)
    superseded: Mapped[bool] = mapped_column(default=False)
    # Deferred so that an import may insert a run before the run that superseded it.
    superseded_by: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("run.global_id", deferrable=True, initially="DEFERRED")
    )
    host_snapshot_id: Mapped[int] = mapped_column(ForeignKey("host_snapshot.id"))
    kernel: Mapped[str]


class Metric(Base):
    """A named number of a run with its unit (`mbps/plain`, `events`, `records`, …)."""

    __tablename__ = "metric"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), primary_key=True)
    name: Mapped[str] = mapped_column(primary_key=True)
    value: Mapped[float]
    unit: Mapped[str]


class EventCount(Base):
    """How many records of one trace event (`net:net_dev_queue`) a run's trace holds."""

    __tablename__ = "event_count"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), primary_key=True)
    event: Mapped[str] = mapped_column(primary_key=True)
    count: Mapped[int]


class DeviceCount(Base):
    """How many trace records name one network device (`docker0`, `veth…`, `lo`)."""

    __tablename__ = "device_count"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), primary_key=True)
    device: Mapped[str] = mapped_column(primary_key=True)
    count: Mapped[int]


class FunctionCount(Base):
    """In how many of a run's sampled stacks a kernel function appears."""

    __tablename__ = "function_count"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), primary_key=True)
    function: Mapped[str] = mapped_column(primary_key=True)
    samples: Mapped[int]


class Artifact(Base):
    """A file a run left behind, relative to the results directory, with its checksum."""

    __tablename__ = "artifact"

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    kind: Mapped[str]
    sha256: Mapped[str] = mapped_column(String(64))
    bytes: Mapped[int]


class FtraceFunction(Base):
    """What a run's ftrace pass (function_graph) measured of one graphed function.

    `unsupported` rows carry the kernel's words in `error` (no function_graph, a refused
    filter, a root the kernel does not know) and no figures: the run itself is still ok.
    Durations are in microseconds, over the calls whose end was traced (`timed_calls`);
    `overrun` and `lost` are the pass's, summed over CPUs, the same on each of its rows.
    """

    __tablename__ = "ftrace_function"
    __table_args__ = (CheckConstraint("status IN ('ok', 'unsupported')", name="status"),)

    run_id: Mapped[int] = mapped_column(ForeignKey("run.id"), primary_key=True)
    function: Mapped[str] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    calls: Mapped[int]
    timed_calls: Mapped[int]
    total_us: Mapped[float | None]
    mean_us: Mapped[float | None]
    p50_us: Mapped[float | None]
    p90_us: Mapped[float | None]
    p99_us: Mapped[float | None]
    children_share: Mapped[float | None]
    # [{"function": …, "calls": …, "total_us": …}], the longest in total first
    top_callees: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    overrun: Mapped[int]
    lost: Mapped[int]
