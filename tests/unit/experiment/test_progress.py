"""Progress off a terminal: one plain line per event, whole however long, and the recap."""

import io
import re

from orchestrator.experiment.progress import MatrixProgress

KEY = "mode=bridge,size=1400,proto=tcp,host=lab1"
LONG_ERROR = (
    "plain phase: the client reported 3 errors (rc=1): client: 3 error(s), last: connection "
    "refused by 172.17.0.3:31337/tcp: is the server listening there?"
)

WORDS = "[bold]not markup[/bold] " + " ".join(["word"] * 30)


def progress(total: int = 4) -> tuple[MatrixProgress, io.StringIO]:
    stream = io.StringIO()  # not a terminal: plain lines
    return MatrixProgress(total, stream=stream), stream


def test_off_a_terminal_there_is_no_live_view() -> None:
    view, stream = progress()
    with view:
        pass
    assert not view.live_view
    assert stream.getvalue() == ""


def test_each_event_is_one_plain_line_however_long() -> None:
    """A log of an overnight matrix is read with grep: a run's line must not wrap at 80."""
    view, stream = progress()
    with view:
        view.log("campaign demo: 4 runs to do, 0 already done")
        view.phase("lab1", KEY, 1, "set-up")
        view.phase("lab1", KEY, 1, "traced")
        view.finished("lab1", KEY, 1, "ok")
        view.finished("lab2", KEY.replace("lab1", "lab2"), 1, "failed", LONG_ERROR)
        view.log(WORDS)
    assert stream.getvalue().splitlines() == [
        "campaign demo: 4 runs to do, 0 already done",
        f"[lab1] {KEY} rep=1 set-up",
        f"[lab1] {KEY} rep=1 traced",
        f"ok: [lab1] {KEY} rep=1",
        f"failed: [lab2] {KEY.replace('lab1', 'lab2')} rep=1 => {LONG_ERROR}",
        WORDS,
    ]


def test_counts_and_host_states_follow_the_runs() -> None:
    view, _ = progress()
    view.phase("lab1", KEY, 2, "perf script")
    assert view.hosts == {"lab1": f"{KEY} rep 2: perf script"}
    for status in ("ok", "ok", "unsupported"):
        view.finished("lab1", KEY, 2, status)
    assert dict(view.counts) == {"ok": 2, "unsupported": 1}
    assert view.hosts == {"lab1": f"{KEY} rep 2: unsupported"}


def test_the_recap_names_every_status_and_the_runs_done_of_the_total() -> None:
    view, _ = progress(total=5)
    for status in ("ok", "failed", "ok", "interrupted"):
        view.finished("lab1", KEY, 1, status)
    recap = view.recap()
    assert re.fullmatch(
        r"MATRIX RECAP: runs=4/5 ok=2 failed=1 unsupported=0 interrupted=1 elapsed=\d+s", recap
    ), recap
