"""Small specs built in code, for tests that care about the matrix shape, not the YAML."""

from orchestrator.experiment.spec import Axes, Perf, Spec, Trace


def make_spec(repetitions: int = 2, **axes: tuple) -> Spec:
    """loopback and bridge × 64 and 1400 × tcp unless `axes` says otherwise; 1 s plain runs."""
    return Spec(
        name="t",
        baseline="loopback",
        axes=Axes(**{"mode": ("loopback", "bridge"), "size": (64, 1400), "proto": ("tcp",)} | axes),
        repetitions=repetitions,
        duration=1.0,
        warmup=0.0,
        phases=("plain",),
        trace=Trace(Perf(("net:*",), "fp", 1)),
        traffic="stream",
    )
