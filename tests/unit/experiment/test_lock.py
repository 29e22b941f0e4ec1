"""The matrix lock: a second matrix on the same results directory refuses, naming the first."""

import subprocess
import sys
import textwrap

import pytest

from orchestrator.errors import NetmatrixError
from orchestrator.experiment.lock import matrix_lock

HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from orchestrator.experiment.lock import matrix_lock
    with matrix_lock(Path(sys.argv[1])):
        print("held", flush=True)
        time.sleep(30)
    """
)


def test_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        refused = pytest.raises(NetmatrixError, match=rf"another matrix \(pid {holder.pid}\)")
        with refused, matrix_lock(tmp_path):
            pass
    finally:
        holder.kill()
        holder.wait()
    with matrix_lock(tmp_path):  # the kernel released it with the holder's death
        assert (tmp_path / ".matrix.lock").read_text().strip().isdigit()


def test_lock_is_released_on_exit_and_reentrant_after(tmp_path):
    with matrix_lock(tmp_path):
        pass
    with matrix_lock(tmp_path):
        pass
    assert (tmp_path / ".matrix.lock").read_text() == ""
