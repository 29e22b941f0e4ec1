"""Names of the metrics the queries read back: a run stores them under exactly these names.

A run may store more (`bytes`, `latency_p50/plain`, …); these are the ones reports rely on.
Phase-specific numbers end in `/plain` (no tracing), `/traced` (perf recording) or `/ftrace`
(the function_graph pass).
"""

MBPS = "mbps/plain"
MBPS_TRACED = "mbps/traced"
MBPS_FTRACE = "mbps/ftrace"
MSGS_PER_S = "msgs_per_s/plain"
EVENTS = "events"
LOST_EVENTS = "lost_events"
RECORDS = "records"
