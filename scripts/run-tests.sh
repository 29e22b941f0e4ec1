#!/usr/bin/env bash
# Runs the whole suite: unit tests first (fast, no root, hermetic: two workers), then the
# integration tests one at a time (real sshd, docker, vagrant, perf, VMs: measurements on
# shared hardware must never overlap). pytest's exit code 5 ("no tests collected") is a
# failure here.
set -uo pipefail
cd "$(dirname "$0")/.."

status=0
for suite in "tests/unit -n 2" "tests/integration --durations=12"; do
    # shellcheck disable=SC2086
    .venv/bin/pytest $suite "$@"
    rc=$?
    if [[ $rc -eq 5 ]]; then
        echo "error: pytest collected no tests in ${suite%% *}" >&2
        rc=1
    fi
    [[ $rc -eq 0 ]] || status=$rc
done
exit $status
