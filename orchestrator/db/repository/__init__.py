"""Every query netmatrix makes, as typed functions over an open Database.

Each function is one transaction. Values are bound parameters only; the user's own SQL
(`execute_read_only`) runs on a read-only database. One module per job: `lifecycle` (a run's
life), `queries` (what reports read), `admin` (integrity, the user's SQL), `exchange` (export
and merge), `ftrace` (a run's ftrace figures), over the frozen `values` and the shared `rows`
helpers.
"""

from orchestrator.db.repository.admin import (
    execute_read_only,
    integrity_check,
)
from orchestrator.db.repository.exchange import (
    dump_campaign,
    import_campaign,
)
from orchestrator.db.repository.ftrace import campaign_ftrace
from orchestrator.db.repository.lifecycle import (
    DONE,
    FINAL,
    INTERRUPTED,
    SNAPSHOT_COLUMNS,
    completed_runs,
    find_campaign,
    finish_run,
    get_or_create_campaign,
    get_or_create_cell,
    mark_stale_runs_interrupted,
    record_host_snapshot,
    start_run,
    supersede_cell_runs,
)
from orchestrator.db.repository.queries import (
    all_campaigns,
    campaign_info,
    campaign_kernels,
    campaign_snapshots,
    current_run_values,
    function_counts_by_mode_and_kernel,
    runs_rows,
    traced_runs,
)
from orchestrator.db.repository.rows import FTRACE_COLUMNS
from orchestrator.db.repository.values import (
    CELL_FIELDS,
    RUN_FIELDS,
    ArtifactEntry,
    CampaignDump,
    CampaignInfo,
    CampaignRef,
    CellRef,
    ImportResult,
    PooledFunctionCounts,
    QueryResult,
    RunRecord,
    RunRow,
    RunSamples,
    RunValues,
    SnapshotRecord,
    SnapshotRef,
)

__all__ = [
    "CELL_FIELDS",
    "DONE",
    "FINAL",
    "FTRACE_COLUMNS",
    "INTERRUPTED",
    "RUN_FIELDS",
    "SNAPSHOT_COLUMNS",
    "ArtifactEntry",
    "CampaignDump",
    "CampaignInfo",
    "CampaignRef",
    "CellRef",
    "ImportResult",
    "PooledFunctionCounts",
    "QueryResult",
    "RunRecord",
    "RunRow",
    "RunSamples",
    "RunValues",
    "SnapshotRecord",
    "SnapshotRef",
    "all_campaigns",
    "campaign_ftrace",
    "campaign_info",
    "campaign_kernels",
    "campaign_snapshots",
    "completed_runs",
    "current_run_values",
    "dump_campaign",
    "execute_read_only",
    "find_campaign",
    "finish_run",
    "function_counts_by_mode_and_kernel",
    "get_or_create_campaign",
    "get_or_create_cell",
    "import_campaign",
    "integrity_check",
    "mark_stale_runs_interrupted",
    "record_host_snapshot",
    "runs_rows",
    "start_run",
    "supersede_cell_runs",
    "traced_runs",
]
