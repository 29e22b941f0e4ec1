#!/usr/bin/env bash
# Runs the whole suite: unit tests first (fast, no root), then integration tests (real sshd,
# docker, vagrant, perf). pytest's exit code 5 ("no tests collected") is a failure here.
set -uo pipefail
cd "$(dirname "$0")/.."

.venv/bin/pytest tests/unit tests/integration "$@"
rc=$?
if [[ $rc -eq 5 ]]; then
    echo "error: pytest collected no tests" >&2
    exit 1
fi
exit $rc
